"""Conf contract of `frameio_backup_scheduled`: the scheduled, incremental Frame.io backup."""

from __future__ import annotations

from mediaflow.common import params as fields

TARGET_SCHEMA = {
    "type": "object",
    "required": ["asset_id", "destination_bucket"],
    "additionalProperties": False,
    "properties": {
        "asset_id": {"type": "string", "minLength": 1},
        "asset_type": {"type": ["null", "string"], "enum": [None, "file", "folder", "version_stack", "project"]},
        "api_version": {"type": "string", "enum": ["v4", "v2"]},
        "account_id": {"type": ["null", "string"]},
        "destination_bucket": {"type": "string", "pattern": fields.BUCKET_PATTERN},
        "destination_prefix": {"type": "string", "maxLength": 1024},
        "include_versions": {"type": "boolean"},
        "skip_existing": {"type": "boolean"},
    },
}

PARAMS = {
    "targets": fields.Param(
        None,
        anyOf=[{"type": "null"}, {"type": "array", "items": TARGET_SCHEMA, "maxItems": 100}],
        description="Projects/folders to back up, each an object with the frameio_backup conf keys. Null (the "
        "schedule's default): read them from the Airflow Variable `frameio_backup_targets` (a JSON list).",
    ),
}
