"""Frame.io's xxh64 all the way into S3: every PUT and part carries S3's XXHASH64 of the bytes,
the values the tests compute themselves; bytes altered between the engine and S3 are refused
and leave nothing behind.

No local S3 server validates XXHASH64 (moto accepts a wrong value, SeaweedFS 4.48 ignores it),
so a proxy between the engine and moto server alters request bodies on their way, and the
engine's check of what the server stored must catch it; on AWS, S3 itself answers BadDigest.
"""

from __future__ import annotations

import base64
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import boto3
import pytest
import requests
import xxhash

from mediaflow.frameio import s3_checksums as sums
from mediaflow.frameio.http_to_s3 import ChecksumMismatch, HttpToS3, TransferConfig, TransferSpec
from tests.frameio.test_http_to_s3 import CONFIG, file_on_standin, standin  # noqa: F401 - fixtures

MiB = 1024 * 1024


class TamperProxy:
    """HTTP proxy to the S3 endpoint that records the XXHASH64 header of every upload request
    and, while `armed`, flips one byte of the body of the uploads it is told to."""

    def __init__(self, target: str) -> None:
        self.target = target.rstrip("/")
        self.armed = False
        self.only_part: int | None = None
        self.sent: list[dict] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):
                return

            def _forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                query = parse_qs(urlparse(self.path).query)
                upload = self.command == "PUT" and body and ("partNumber" in query or not query)
                if upload:
                    part = int(query["partNumber"][0]) if "partNumber" in query else None
                    proxy.sent.append(
                        {
                            "part": part,
                            "checksum": self.headers.get("x-amz-checksum-xxhash64"),
                            "expected": sums.xxh64_b64(body),
                        }
                    )
                    if proxy.armed and proxy.only_part in (None, part):
                        body = body[:-1] + bytes([body[-1] ^ 0xFF])
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                resp = requests.request(self.command, proxy.target + self.path, data=body, headers=headers, timeout=60)
                self.send_response(resp.status_code)
                head = self.command == "HEAD"  # its Content-Length is the object's; it has no body
                for key, value in resp.headers.items():
                    skip = (
                        "transfer-encoding",
                        "connection",
                        "content-encoding",
                        *(() if head else ("content-length",)),
                    )
                    if key.lower() not in skip:
                        self.send_header(key, value)
                if not head:
                    self.send_header("Content-Length", str(len(resp.content)))
                self.end_headers()
                if not head:
                    self.wfile.write(resp.content)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward  # noqa: N815 - http.server naming

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy(local_stack):
    tamper = TamperProxy(local_stack.aws_endpoint)
    yield tamper
    tamper.close()


@pytest.fixture
def proxied_s3(proxy):
    return boto3.client(
        "s3",
        endpoint_url=proxy.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def left_behind(s3, bucket: str) -> tuple[int, list]:
    return s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0), s3.list_multipart_uploads(Bucket=bucket).get(
        "Uploads", []
    )


# -- pure ---------------------------------------------------------------------------------------
def test_frameio_hex_becomes_s3_base64_and_composites_are_xxh64_of_the_part_digests():
    data = b"frame.io" * 1000
    assert sums.hex_to_b64(xxhash.xxh64(data).hexdigest()) == sums.xxh64_b64(data)
    assert sums.hex_to_b64("ff") == base64.b64encode(bytes(7) + b"\xff").decode()  # leading zeros restored
    parts = [b"a" * 10, b"b" * 20]
    expected = xxhash.xxh64(xxhash.xxh64(parts[0]).digest() + xxhash.xxh64(parts[1]).digest()).digest()
    assert sums.composite([sums.xxh64_b64(p) for p in parts]) == base64.b64encode(expected).decode() + "-2"


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ({"ChecksumXXHASH64": sums.xxh64_b64(b"x")}, sums.xxh64_b64(b"x")),
        ({"ChecksumXXHASH64": sums.xxh64_b64(b"x") + "-3"}, sums.xxh64_b64(b"x") + "-3"),
        ({"ChecksumXXHASH64": base64.b64encode(bytes(32)).decode()}, None),  # moto's multipart value
        ({"ChecksumXXHASH64": "not base64!"}, None),
        ({}, None),
    ],
)
def test_only_a_real_stored_xxhash64_counts(answer, expected):
    assert sums.stored_xxh64(answer) == expected


def test_confirm_prefers_the_stored_checksum_then_the_md5_etag():
    good, etag = sums.xxh64_b64(b"x"), sums.md5(b"x").hex()
    assert sums.confirm({"ChecksumXXHASH64": good, "ETag": '"00"'}, good, etag) == (True, "S3 XXHASH64")
    assert sums.confirm({"ChecksumXXHASH64": sums.xxh64_b64(b"y")}, good, etag) == (False, "S3 XXHASH64")
    assert sums.confirm({"ETag": f'"{etag}"'}, good, etag) == (True, "ETag (MD5)")
    assert sums.confirm({"ETag": f'"{sums.md5(b"y").hex()}"'}, good, etag) == (False, "ETag (MD5)")
    kms = {"ETag": f'"{sums.md5(b"y").hex()}"', "ServerSideEncryption": "aws:kms"}
    assert sums.confirm(kms, good, etag) == (True, "size")


# -- through a proxy to moto server ---------------------------------------------------------------
@pytest.mark.parametrize("size", [4000, 12 * MiB])
def test_every_upload_carries_the_xxhash64_of_its_bytes(proxy, proxied_s3, s3, make_bucket, file_on_standin, size):  # noqa: F811
    bucket = make_bucket("xxh")
    asset_id, url, client = file_on_standin(size)
    frameio_xxh64 = client.get_asset(asset_id).xxh64
    result = HttpToS3(proxied_s3, config=CONFIG).transfer(
        TransferSpec(url=url, bucket=bucket, key="f.bin", size=size, xxh64=frameio_xxh64)
    )
    assert result.xxh64 == frameio_xxh64
    assert proxy.sent and all(r["checksum"] == r["expected"] for r in proxy.sent)
    if size < CONFIG.multipart_threshold:
        # Frame.io's own checksum is what S3 is asked to check
        assert [r["checksum"] for r in proxy.sent] == [sums.hex_to_b64(frameio_xxh64)]
    else:
        assert sorted(r["part"] for r in proxy.sent) == [1, 2, 3]
    assert result.verified == "ETag (MD5)"  # moto keeps no real XXHASH64: the MD5 ETag is compared
    body = s3.get_object(Bucket=bucket, Key="f.bin")["Body"].read()
    assert xxhash.xxh64(body).hexdigest() == frameio_xxh64


@pytest.mark.parametrize(("size", "only_part"), [(4000, None), (12 * MiB, 2), (12 * MiB, 3)])
def test_bytes_altered_on_the_way_to_s3_are_refused_and_leave_nothing(
    proxy,
    proxied_s3,
    s3,
    make_bucket,
    file_on_standin,  # noqa: F811
    size,
    only_part,
):
    bucket = make_bucket("xxh")
    asset_id, url, client = file_on_standin(size)
    proxy.armed, proxy.only_part = True, only_part
    engine = HttpToS3(proxied_s3, config=TransferConfig(**{**CONFIG.__dict__, "part_attempts": 1}))
    with pytest.raises(ChecksumMismatch, match=rf"s3://{bucket}/f.bin: .*altered"):
        engine.transfer(
            TransferSpec(url=url, bucket=bucket, key="f.bin", size=size, xxh64=client.get_asset(asset_id).xxh64)
        )
    assert left_behind(s3, bucket) == (0, [])


def test_an_object_altered_after_upload_is_not_taken_for_a_backup(s3, make_bucket):
    from mediaflow.frameio.backup import already_backed_up

    bucket = make_bucket("xxh")
    data = b"original bytes"
    digest = xxhash.xxh64(data).hexdigest()
    entry = {"asset_id": "a1", "size": len(data), "xxh64": digest}
    s3.put_object(Bucket=bucket, Key="k", Body=data, Metadata={"frameio-asset-id": "a1", "frameio-xxh64": digest})
    head = s3.head_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert already_backed_up(head, entry)
    # a server that keeps S3's checksum: it is what is compared, not the tag
    assert not already_backed_up({**head, "ChecksumXXHASH64": sums.xxh64_b64(b"other bytes!!!")}, entry)
    assert already_backed_up({**head, "ChecksumXXHASH64": sums.xxh64_b64(data)}, entry)


def test_without_a_known_etag_only_a_stored_checksum_can_tell():
    good = sums.xxh64_b64(b"x")
    assert sums.confirm({"ETag": f'"{sums.md5(b"y").hex()}"'}, good, None) == (True, "size")
    assert sums.confirm({"ChecksumXXHASH64": sums.xxh64_b64(b"y")}, good, None) == (False, "S3 XXHASH64")
