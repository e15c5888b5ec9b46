"""cdp: an offline customer-data-platform toolkit.

The package is a library first: every command of the ``cdp`` CLI is a thin layer over functions
that can be called from Python (for example :func:`cdp_cli.plan.validate.validate_paths`).
"""

__version__ = "0.1.0"
