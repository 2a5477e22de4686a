"""Reusable JSON-schema Params, so every DAG words and validates the same things the same way."""

from __future__ import annotations

from typing import Any

from airflow.sdk import Param as _Param

#: S3 bucket naming rules (3-63 chars, lowercase letters, digits, dots and hyphens).
BUCKET_PATTERN = r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$"
S3_URI_PATTERN = r"^s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9](/.*)?$"


def Param(default: Any = None, *, title: str | None = None, **schema: Any) -> _Param:  # noqa: N802
    """`airflow.sdk.Param`, leaving `title` out of the schema when none is given."""
    if title is not None:
        schema["title"] = title
    return _Param(default, **schema)


def bucket(description: str, default: Any = None, *, required: bool = True, title: str | None = None) -> Param:
    types: Any = "string" if required else ["null", "string"]
    schema: dict[str, Any] = {"type": types, "description": description}
    if required:
        schema["pattern"] = BUCKET_PATTERN
    else:
        schema["anyOf"] = [{"type": "null"}, {"type": "string", "pattern": BUCKET_PATTERN}]
        schema.pop("type")
    return Param(default, title=title, **schema)


def prefix(description: str, default: str = "", *, title: str | None = None) -> Param:
    return Param(default, type="string", description=description, title=title, maxLength=1024)


def s3_uri(description: str, default: Any = None, *, required: bool = False, title: str | None = None) -> Param:
    if required:
        return Param(default, type="string", pattern=S3_URI_PATTERN, description=description, title=title)
    return Param(
        default,
        anyOf=[{"type": "null"}, {"type": "string", "pattern": S3_URI_PATTERN}],
        description=description,
        title=title,
    )


def boolean(description: str, default: bool, *, title: str | None = None) -> Param:
    return Param(default, type="boolean", description=description, title=title)


def integer(
    description: str,
    default: Any,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    nullable: bool = False,
    title: str | None = None,
) -> Param:
    bounds: dict[str, Any] = {}
    if minimum is not None:
        bounds["minimum"] = minimum
    if maximum is not None:
        bounds["maximum"] = maximum
    if nullable:
        return Param(
            default, anyOf=[{"type": "null"}, {"type": "integer", **bounds}], description=description, title=title
        )
    return Param(default, type="integer", description=description, title=title, **bounds)


def choice(description: str, default: str, options: list[str], *, title: str | None = None) -> Param:
    return Param(default, type="string", enum=options, description=description, title=title)


def string(
    description: str, default: Any = None, *, nullable: bool = True, title: str | None = None, **schema: Any
) -> Param:
    if nullable:
        return Param(
            default, anyOf=[{"type": "null"}, {"type": "string", **schema}], description=description, title=title
        )
    return Param(default, type="string", description=description, title=title, **schema)
