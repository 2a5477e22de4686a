"""A static file server with single-range support (206 Partial Content), standing in for the
Frame.io original-file download in W4: `python -m bench.http_server --dir D --port P [--rate B]`.

`--rate` caps each response's throughput, as CDN-backed origins do per stream; on loopback an
uncapped single stream is as fast as memory, which no internet download is."""

from __future__ import annotations

import argparse
import os
import re
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

CHUNK = 1024 * 1024
RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


class RangeHandler(BaseHTTPRequestHandler):
    root: Path = Path(".")
    #: bytes per second per response (0: unlimited), like a CDN's per-stream throughput
    rate: int = 0
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet
        pass

    def _target(self) -> Path | None:
        path = (self.root / self.path.split("?", 1)[0].lstrip("/")).resolve()
        if self.root not in path.parents or not path.is_file():
            self.send_error(404)
            return None
        return path

    def do_HEAD(self) -> None:  # noqa: N802
        path = self._target()
        if path:
            self.send_response(200)
            self.send_header("Content-Length", str(path.stat().st_size))
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()

    def do_GET(self) -> None:  # noqa: N802
        path = self._target()
        if not path:
            return
        size = path.stat().st_size
        start, end, status = 0, size - 1, 200
        match = RANGE.match(self.headers.get("Range", "").strip())
        if match and (match.group(1) or match.group(2)):
            if match.group(1):
                start = int(match.group(1))
                end = min(int(match.group(2)), size - 1) if match.group(2) else size - 1
            else:
                start = max(0, size - int(match.group(2)))
            if start > end or start >= size:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status = 206
        length = end - start + 1
        self.send_response(status)
        self.send_header("Content-Length", str(length))
        self.send_header("Accept-Ranges", "bytes")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        began, sent_total = time.monotonic(), 0
        with open(path, "rb") as fh:
            offset = start
            while length > 0:  # sendfile: the server must not be the bottleneck being measured
                sent = os.sendfile(
                    self.wfile.fileno(), fh.fileno(), offset, min(length, CHUNK if self.rate else 8 * CHUNK)
                )
                if not sent:
                    break
                offset += sent
                length -= sent
                sent_total += sent
                if self.rate:
                    ahead = sent_total / self.rate - (time.monotonic() - began)
                    if ahead > 0:
                        time.sleep(ahead)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--rate", type=int, default=0, help="bytes per second per response (0: no cap)")
    args = parser.parse_args(argv)
    RangeHandler.root = Path(args.dir).resolve()
    RangeHandler.rate = args.rate
    server = ThreadingHTTPServer(("127.0.0.1", args.port), RangeHandler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
