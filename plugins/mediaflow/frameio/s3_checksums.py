"""Frame.io's xxh64 as S3's own XXHASH64 checksum, and the check of what S3 stored (no Airflow).

S3 takes `x-amz-checksum-xxhash64` (base64 of the 8-byte big-endian digest) on PutObject and
UploadPart and refuses bytes that do not match it (BadDigest); a multipart object keeps a
composite checksum, the xxh64 of the parts' digests with `-<parts>` appended. botocore computes
XXHASH64 only with awscrt installed; we do not need it: the digest is computed with `xxhash` as
the bytes stream (we hash them anyway to check Frame.io's checksum) and passed as the value,
which botocore sends as is.

Local S3 servers differ: moto accepts a wrong value and stores none for single uploads (and a
digest of another size for multipart ones); SeaweedFS 4.48 ignores the header and refuses
`ChecksumAlgorithm=XXHASH64` on CreateMultipartUpload. So the stored checksum is compared when
the server kept a well-formed one, and otherwise the ETag (the MD5 of what arrived, per part and
per object) is: either way bytes altered on their way to S3 are caught.
"""

from __future__ import annotations

import base64
import hashlib
import re

import xxhash

ALGORITHM = "XXHASH64"
_MD5_ETAG = re.compile(r'^"?([0-9a-f]{32})(?:-(\d+))?"?$')


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def xxh64_b64(data: bytes | bytearray | memoryview) -> str:
    """S3's form of the xxh64 of `data`."""
    return b64(xxhash.xxh64(data).digest())


def hex_to_b64(hexdigest: str) -> str:
    """Frame.io's hex xxh64 (sometimes without leading zeros) in S3's base64 form."""
    return b64(bytes.fromhex(hexdigest.lower().rjust(16, "0")))


def composite(part_checksums: list[str]) -> str:
    """The checksum S3 keeps for a multipart upload: xxh64 of the parts' digests, `-<parts>`."""
    joined = b"".join(base64.b64decode(c) for c in part_checksums)
    return f"{xxh64_b64(joined)}-{len(part_checksums)}"


def multipart_etag(part_md5s: list[bytes]) -> str:
    """The ETag S3-compatible servers give a multipart upload: MD5 of the parts' MD5s, `-<parts>`."""
    return f"{hashlib.md5(b''.join(part_md5s)).hexdigest()}-{len(part_md5s)}"  # noqa: S324 - S3's ETag


def md5(data: bytes | bytearray | memoryview) -> bytes:
    return hashlib.md5(data).digest()  # noqa: S324 - compared with S3's ETag, not for security


def stored_xxh64(answer: dict) -> str | None:
    """The XXHASH64 a PutObject/UploadPart/HeadObject answer carries, when it is a real one
    (8 bytes, `-N` for a multipart object); None when the server kept none or another kind."""
    value = answer.get("ChecksumXXHASH64")
    if not isinstance(value, str):
        return None
    digest, _, parts = value.partition("-")
    try:
        ok = len(base64.b64decode(digest, validate=True)) == 8 and (not parts or parts.isdigit())
    except ValueError:
        return None
    return value if ok else None


def confirm(answer: dict, checksum: str | None, etag: str | None) -> tuple[bool, str]:
    """Whether the object (or part) S3 answered about holds the bytes sent, and how that was
    told: by the XXHASH64 S3 stored, else by the ETag when it is an MD5 and the expected one is
    known, else not at all (an encrypted object's ETag is not an MD5; S3 itself checked the
    checksum header then)."""
    stored = stored_xxh64(answer)
    if checksum and stored:
        return stored == checksum, "S3 XXHASH64"
    match = _MD5_ETAG.match(str(answer.get("ETag") or ""))
    if match and etag is not None and answer.get("ServerSideEncryption") != "aws:kms":
        return match.group(0).strip('"') == etag, "ETag (MD5)"
    return True, "size"
