"""Conf contract of `frameio_backup_scheduled`: the scheduled, incremental Frame.io backup."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mediaflow.common import params as fields
from mediaflow.frameio.contract import ASSET_TYPES

TARGETS_VARIABLE = "frameio_backup_targets"
TARGET_SCHEMA = {
    "type": "object",
    "required": ["asset_id", "destination_bucket"],
    "additionalProperties": False,
    "properties": {
        "asset_id": {"type": "string", "minLength": 1, "maxLength": 128},
        "asset_type": {"type": ["string", "null"], "enum": [None, *ASSET_TYPES]},
        "api_version": {"type": "string", "enum": ["v4", "v2"]},
        "account_id": {"type": ["string", "null"]},
        "destination_bucket": {"type": "string", **fields.BUCKET_RULES},
        "destination_prefix": {"type": ["string", "null"], "maxLength": fields.MAX_KEY_LENGTH},
        "include_versions": {"type": "boolean"},
        "skip_existing": {"type": "boolean"},
    },
}

PARAMS = fields.with_deployment_defaults(
    "frameio_backup_scheduled",
    {
        "targets": fields.object_list(
            "Targets",
            "Projects and folders to back up: a JSON list of objects with the frameio_backup conf keys, e.g. "
            '[{"asset_id": "<project id>", "asset_type": "project", "destination_bucket": "media-backup"}]. '
            f"Empty (what the nightly schedule uses): the list in the Airflow Variable `{TARGETS_VARIABLE}`.",
            TARGET_SCHEMA,
            maxItems=100,
        ),
    },
)


def validate(conf: Mapping[str, Any]) -> None:
    """No rules across keys: each target is checked by its schema, the Variable when it is read."""
