"""A throttling front for an S3 endpoint: a local HTTP proxy that answers some requests with an
S3 error (503 SlowDown by default) and passes the rest, unchanged, to the server behind it.

S3 throttles a prefix that is asked for more than it can serve at the moment; `RateCap` models
that (a token bucket: a request that finds no token is answered SlowDown). `Share` answers a
random share of requests, the way S3 does while it repartitions, whatever the client's rate.
`FirstN` and `Always` answer chosen operations, for tests that need an exact count.

The front keeps the client's Host header, so signatures made for it still verify upstream, and
counts every request by S3 operation, so a run can report its requests and the answers it got.
"""

from __future__ import annotations

import http.client
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

#: headers that belong to one connection and are not passed on
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "expect"}
)
#: response headers the front's own server writes
OWN_HEADERS = frozenset({"server", "date"})


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    operation: str


@dataclass(frozen=True)
class Answer:
    """An error the front gives instead of passing the request on."""

    status: int = 503
    code: str = "SlowDown"
    message: str = "Please reduce your request rate."


SLOW_DOWN = Answer()
#: a policy looks at a request and returns the answer to give, or None to pass it on
Policy = Callable[[Request], Answer | None]


class RateCap:
    """At most `rate` requests a second (bursts of `burst`); the rest are answered SlowDown."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        self.rate, self.burst = rate, burst if burst is not None else max(1.0, rate / 10)
        self.tokens, self.stamp = self.burst, time.monotonic()
        self.lock = threading.Lock()

    def __call__(self, request: Request) -> Answer | None:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1:
                self.tokens -= 1
                return None
        return SLOW_DOWN


class Share:
    """A random `fraction` of requests is answered SlowDown, whatever the rate."""

    def __init__(self, fraction: float, seed: int = 0) -> None:
        self.fraction, self.rng, self.lock = fraction, random.Random(seed), threading.Lock()

    def __call__(self, request: Request) -> Answer | None:
        with self.lock:
            hit = self.rng.random() < self.fraction
        return SLOW_DOWN if hit else None


class FirstN:
    """The first `n` requests of `operation` get `answer`; later ones pass."""

    def __init__(self, n: int, operation: str, answer: Answer = SLOW_DOWN) -> None:
        self.left, self.operation, self.answer, self.lock = n, operation, answer, threading.Lock()

    def __call__(self, request: Request) -> Answer | None:
        if request.operation != self.operation:
            return None
        with self.lock:
            if self.left <= 0:
                return None
            self.left -= 1
        return self.answer


class Always:
    """Every request of `operation` gets `answer` (a 403 AccessDenied, say)."""

    def __init__(self, operation: str, answer: Answer) -> None:
        self.operation, self.answer = operation, answer

    def __call__(self, request: Request) -> Answer | None:
        return self.answer if request.operation == self.operation else None


def operation_of(method: str, target: str, headers: Any) -> str:
    """The S3 operation of a path-style request (enough of them for the copy engine's calls)."""
    parts = urlsplit(target)
    query = parse_qs(parts.query, keep_blank_values=True)
    has_key = "/" in parts.path.lstrip("/")
    copy = "x-amz-copy-source" in headers
    if method == "HEAD":
        return "HeadObject" if has_key else "HeadBucket"
    if method == "GET":
        if "uploadId" in query:
            return "ListParts"
        if "tagging" in query:
            return "GetObjectTagging"
        if "uploads" in query:
            return "ListMultipartUploads"
        if has_key:
            return "GetObject"
        return "ListObjectsV2" if query.get("list-type") == ["2"] else "ListObjects"
    if method == "PUT":
        if "partNumber" in query:
            return "UploadPartCopy" if copy else "UploadPart"
        if "tagging" in query:
            return "PutObjectTagging"
        if has_key:
            return "CopyObject" if copy else "PutObject"
        return "CreateBucket"
    if method == "POST":
        if "uploads" in query:
            return "CreateMultipartUpload"
        if "uploadId" in query:
            return "CompleteMultipartUpload"
        return "DeleteObjects" if "delete" in query else "PostObject"
    if method == "DELETE":
        if "uploadId" in query:
            return "AbortMultipartUpload"
        return "DeleteObject" if has_key else "DeleteBucket"
    return method


class ThrottleFront:
    """The proxy, served on a thread: `endpoint` is the URL to give the S3 client."""

    def __init__(self, upstream: str, policies: Iterable[Policy] = (), host: str = "127.0.0.1", port: int = 0):
        target = urlsplit(upstream)
        self.upstream = (target.hostname or "127.0.0.1", target.port or 80)
        self.policies = list(policies)
        self.lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.answered: Counter[str] = Counter()
        self.server = ThreadingHTTPServer((host, port), _handler(self))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="throttle-front", daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> ThrottleFront:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def decide(self, request: Request) -> Answer | None:
        answer = next((a for a in (p(request) for p in self.policies) if a is not None), None)
        with self.lock:
            self.requests[request.operation] += 1
            if answer is not None:
                self.answered[f"{request.operation} {answer.code}"] += 1
        return answer

    def stats(self) -> dict[str, Any]:
        """Requests received, and the errors the front answered, by operation."""
        with self.lock:
            return {
                "requests": sum(self.requests.values()),
                "answered": sum(self.answered.values()),
                "requests_by_operation": dict(sorted(self.requests.items())),
                "answered_by_operation": dict(sorted(self.answered.items())),
            }


def _handler(front: ThrottleFront) -> type[BaseHTTPRequestHandler]:
    local = threading.local()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            pass

        def _body(self) -> bytes:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                chunks = []
                while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _answer(self, answer: Answer) -> None:
            body = (
                b""
                if self.command == "HEAD"
                else (
                    '<?xml version="1.0" encoding="UTF-8"?>\n'
                    f"<Error><Code>{answer.code}</Code><Message>{answer.message}</Message>"
                    f"<RequestId>{uuid.uuid4().hex}</RequestId></Error>"
                ).encode()
            )
            self.send_response(answer.status)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _forward(self, body: bytes) -> tuple[int, str, list[tuple[str, str]], bytes]:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            if body or self.command in ("PUT", "POST"):
                headers["Content-Length"] = str(len(body))
            for attempt in (1, 2):
                conn = getattr(local, "conn", None) or http.client.HTTPConnection(*front.upstream, timeout=120)
                local.conn = conn
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    return resp.status, resp.reason, resp.getheaders(), resp.read()
                except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                    conn.close()
                    local.conn = None
                    if attempt == 2:
                        raise
            raise AssertionError("unreachable")

        def _handle(self) -> None:
            body = self._body()
            request = Request(self.command, self.path, operation_of(self.command, self.path, self.headers))
            answer = front.decide(request)
            if answer is not None:
                self._answer(answer)
                return
            status, reason, headers, data = self._forward(body)
            self.send_response(status, reason)
            for name, value in headers:
                lower = name.lower()
                if lower not in HOP_BY_HOP | OWN_HEADERS and (lower != "content-length" or self.command == "HEAD"):
                    self.send_header(name, value)
            if self.command != "HEAD":
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

    return Handler
