"""A Segment-compatible batch endpoint that only counts: it reads each request body, answers 200
``{"success": true}`` and keeps the number of requests and bytes. For measuring how fast a client
sends (cdp events replay, a peer replayer), not how fast a server validates.

    python3 bench/sink.py --port 18090        # prints "listening on URL"; Ctrl-C prints the totals
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOTALS = {"requests": 0, "bytes": 0, "messages": 0}
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out at once: no 40 ms delayed-ACK stalls

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        n = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(n)
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        messages = body.count(b'"messageId"')  # close enough for a count; nothing is parsed
        with LOCK:
            TOTALS["requests"] += 1
            TOTALS["bytes"] += len(body)
            TOTALS["messages"] += messages
        out = b'{"success":true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        print(json.dumps(TOTALS), file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
