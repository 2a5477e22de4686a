"""S3 addressing and the small calls every capability makes: URIs, ETags, error codes, and
"HEAD this object, or None when it is not there"."""

from __future__ import annotations

from typing import Any

from mediaflow.common.errors import InputError

NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound", "NoSuchVersion"})


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/key` -> (bucket, key); anything else is an InputError saying how to write it."""
    if not isinstance(uri, str) or not uri.startswith("s3://") or len(uri) <= 5:
        raise InputError(f"{uri!r} is not an S3 URI; write it as s3://bucket/key")
    bucket, _, key = uri[5:].partition("/")
    if not bucket:
        raise InputError(f"{uri!r} has no bucket; write it as s3://bucket/key")
    return bucket, key


def s3_uri(bucket: str, key: str = "") -> str:
    return f"s3://{bucket}/{key}"


def clean_etag(etag: str | None) -> str:
    """An ETag without the quotes S3 puts around it."""
    return (etag or "").strip('"')


def error_info(exc: BaseException) -> tuple[str, int, str]:
    """(error code, HTTP status, message) of a botocore ClientError; the type name otherwise."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        err = response.get("Error", {}) or {}
        status = int((response.get("ResponseMetadata", {}) or {}).get("HTTPStatusCode") or 0)
        return str(err.get("Code") or status), status, str(err.get("Message") or exc)
    return type(exc).__name__, 0, str(exc)


def is_not_found(exc: BaseException) -> bool:
    code, status, _ = error_info(exc)
    return status == 404 or code in NOT_FOUND_CODES


def head_object_or_none(
    client: Any, bucket: str, key: str, version_id: str | None = None, *, checksums: bool = False
) -> dict[str, Any] | None:
    """HeadObject, or None when the object (or version) does not exist; other errors propagate.
    With `checksums`, the answer carries the object's stored checksum (ChecksumMode=ENABLED)."""
    kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if version_id:
        kwargs["VersionId"] = version_id
    if checksums:
        kwargs["ChecksumMode"] = "ENABLED"
    try:
        return client.head_object(**kwargs)
    except Exception as exc:
        if is_not_found(exc):
            return None
        raise
