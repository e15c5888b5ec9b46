"""``python -m cdp_cli.collect --port 0 --out DIR``: the collector without the CLI (for tests and scripts).

Prints ``listening on URL`` on stderr once the port is open; SIGINT or SIGTERM stop it cleanly (every
acknowledged message in a closed file); the summary is printed on stdout as JSON. ``cdp collect`` is
the command for people: same options, same library call.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

from cdp_cli.collect import CollectOptions, run_collector
from cdp_cli.errors import CdpError


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m cdp_cli.collect", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--port", type=int, default=8088)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--write-keys")
    ap.add_argument("--plan", action="append")
    ap.add_argument("--lint", action="store_true")
    ap.add_argument("--no-config", action="store_true")
    ap.add_argument("--suppress")
    ap.add_argument("--profiles")
    ap.add_argument("--rotate-bytes", default="64M")
    ap.add_argument("--rotate-seconds", type=float, default=60.0)
    ap.add_argument("--recent", type=int, default=10_000)
    ap.add_argument("--fail-rate", type=float, default=0.0)
    ap.add_argument("--fail-status", default="500")
    ap.add_argument("--retry-after", type=float, default=None)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--no-fsync", action="store_true")
    ap.add_argument("--duration", type=float, default=None)
    args = ap.parse_args(argv)
    options = CollectOptions(
        out=args.out,
        port=args.port,
        host=args.host,
        write_keys=args.write_keys,
        plan=args.plan,
        lint=args.lint,
        search_config=not args.no_config,
        suppress=args.suppress,
        profiles=args.profiles,
        rotate_bytes=args.rotate_bytes,
        rotate_seconds=args.rotate_seconds,
        recent=args.recent,
        fail_rate=args.fail_rate,
        fail_status=args.fail_status,
        retry_after=args.retry_after,
        seed=args.seed,
        durable=not args.no_fsync,
        duration=args.duration,
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())

    def ready(url: str) -> None:
        print(f"listening on {url}", file=sys.stderr, flush=True)

    try:
        result = run_collector(options, on_ready=ready, stop=stop)
    except CdpError as e:
        print(f"Error: {e}", file=sys.stderr, flush=True)
        return 2
    print(json.dumps(result.summary(), indent=1, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
