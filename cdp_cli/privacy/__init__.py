"""Privacy requests: ``cdp privacy delete`` (remove people from event files, resolved profiles and a
PostgreSQL warehouse, and suppress them from then on) and ``cdp privacy scan`` (where personal data
appears in event logs, by key and by value, never showing a value).

- :mod:`cdp_cli.privacy.delete`: :func:`~cdp_cli.privacy.delete.delete`, its options and result;
- :mod:`cdp_cli.privacy.scan`: :func:`~cdp_cli.privacy.scan.scan`, its options and result.

Heavy libraries (pyarrow, orjson, psycopg through the replay destination) load inside the functions.
"""
