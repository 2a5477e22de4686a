"""Full-object checksums S3 keeps, and how the copy engine uses them (no Airflow, no byte read).

S3 stores a full-object checksum with every new object (CRC64NVME unless the writer chose
another; botocore's default for uploads is CRC32). A copy asks S3 for one on the destination:
CopyObject with `ChecksumAlgorithm`, CreateMultipartUpload with `ChecksumType=FULL_OBJECT`. The
destination's algorithm is the source's when the source's is a CRC (so the two are comparable),
CRC64NVME otherwise.

For a multipart copy, UploadPartCopy answers with each part's CRC, and a CRC of a concatenation
is a function of the parts' CRCs and lengths (`combine`, the GF(2) arithmetic of zlib's
`crc32_combine`, for any reflected CRC). So the engine passes the source's full-object value to
CompleteMultipartUpload, where S3 refuses (BadDigest) parts that do not add up to it, and, when
the parts carried their CRCs, compares the combination itself before asking.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

DEFAULT_ALGORITHM = "CRC64NVME"


class _Crc(NamedTuple):
    width: int
    poly: int  # reflected polynomial


#: the CRCs S3 can keep as a full-object checksum of a multipart upload
CRCS = {
    "CRC64NVME": _Crc(64, 0x9A6C9329AC4BC9B5),
    "CRC32": _Crc(32, 0xEDB88320),
    "CRC32C": _Crc(32, 0x82F63B78),
}


class Checksum(NamedTuple):
    """A full-object checksum as S3 shows it: algorithm and base64 value."""

    algorithm: str
    value: str

    @property
    def method(self) -> str:
        return f"checksum:{self.algorithm}"


def stored_checksum(answer: Mapping[str, Any], algorithm: str | None = None) -> Checksum | None:
    """The full-object CRC a HeadObject, CopyObject or CompleteMultipartUpload answer carries
    (of `algorithm` when given); None when there is none, or only a composite one (`-N`)."""
    if answer.get("ChecksumType") == "COMPOSITE":
        return None
    for name in (algorithm,) if algorithm else CRCS:
        value = answer.get(f"Checksum{name}")
        if isinstance(value, str) and value and "-" not in value:
            return Checksum(name, value)
    return None


def destination_algorithm(source: Checksum | None) -> str:
    """The algorithm to ask for on the copy: the source's CRC, so both compare; else CRC64NVME."""
    return source.algorithm if source is not None and source.algorithm in CRCS else DEFAULT_ALGORITHM


def to_int(value: str) -> int:
    return int.from_bytes(base64.b64decode(value), "big")


def to_b64(crc: int, algorithm: str) -> str:
    return base64.b64encode(crc.to_bytes(CRCS[algorithm].width // 8, "big")).decode()


def _multmodp(a: int, b: int, crc: _Crc) -> int:
    """a * b modulo the polynomial, both in reflected bit order."""
    top = 1 << (crc.width - 1)
    m, p = top, 0
    while True:
        if a & m:
            p ^= b
            if (a & (m - 1)) == 0:
                break
        m >>= 1
        b = (b >> 1) ^ crc.poly if b & 1 else b >> 1
    return p


def _x8nmodp(n: int, crc: _Crc) -> int:
    """x^(8n) modulo the polynomial: what appending n zero bytes multiplies a CRC by."""
    p = 1 << (crc.width - 1)  # x^0
    square = 1 << (crc.width - 2)  # x^1, squared into x^(2^k) for each bit k of 8n
    for _ in range(3):  # x^8 = x^(2^3)
        square = _multmodp(square, square, crc)
    while n:
        if n & 1:
            p = _multmodp(square, p, crc)
        n >>= 1
        square = _multmodp(square, square, crc)
    return p


def combine(parts: Iterable[tuple[str, int]], algorithm: str) -> str:
    """The full-object CRC of the concatenation of parts given as (base64 CRC, length)."""
    crc = CRCS[algorithm]
    total: int | None = None
    for value, length in parts:
        part = to_int(value)
        total = part if total is None else _multmodp(_x8nmodp(length, crc), total, crc) ^ part
    if total is None:
        raise ValueError("no parts to combine")
    return to_b64(total, algorithm)
