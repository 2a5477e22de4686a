"""Conf contract of `frameio_backup` (keys as in DESIGN.md, plus `asset_type` and `assets`).

`asset_id` and `destination_bucket` are required by `validate` (the whole-conf check every way in
runs) rather than by their JSON schema: the DAG is also scheduled on Frame.io upload events, and
Airflow refuses a schedule on a DAG whose Params have required fields without defaults."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mediaflow.common import params as fields
from mediaflow.common.errors import InputError

ASSET_TYPES = ["file", "folder", "version_stack", "project"]
ASSET_TYPE_LABELS = {
    "null": "look it up",
    "file": "file",
    "folder": "folder",
    "version_stack": "version stack",
    "project": "project",
}

#: a multi-asset Action sends at most 100 resources: the first is `asset_id`, the rest `assets`
MAX_MORE_ASSETS = 99
ASSET_ITEM_SCHEMA = {
    "type": "object",
    "required": ["asset_id"],
    "additionalProperties": False,
    "properties": {
        "asset_id": {"type": "string", "minLength": 1, "maxLength": 128},
        "asset_type": {"type": ["string", "null"], "enum": [None, *ASSET_TYPES]},
    },
}

PARAMS = fields.with_deployment_defaults(
    "frameio_backup",
    {
        "asset_id": fields.text(
            "Frame.io asset id",
            "Required. Id of the Frame.io file, folder, version stack or project to back up (the last part of "
            "its Frame.io URL; for the local stand-in, the project id `make up` prints). A project also needs "
            "Asset type 'project'. (Runs started by Frame.io upload events take their files from the events.)",
            minLength=1,
            maxLength=128,
        ),
        "asset_type": fields.choice(
            "Asset type",
            "What the asset id names. Empty: look it up (v2 reports it; v4 tries file, folder, version stack). "
            "A project id always needs 'project'.",
            None,
            ASSET_TYPES,
            labels=ASSET_TYPE_LABELS,
            required=False,
        ),
        "destination_bucket": fields.bucket("Destination bucket", "Required. S3 bucket the backup is written to."),
        "destination_prefix": fields.prefix(
            "Destination prefix",
            "Key prefix in the destination bucket; keys are {prefix}/{Frame.io folder path}/{name}. Empty: none.",
        ),
        "api_version": fields.choice(
            "Frame.io API",
            "v4 (current; Adobe IMS client credentials) or v2 (legacy developer token).",
            "v4",
            ["v4", "v2"],
        ),
        "account_id": fields.text(
            "Account id (v4)",
            "Frame.io v4 account id. Empty: the frameio_default connection's extra `account_id`. Ignored by v2.",
            maxLength=128,
        ),
        "include_versions": fields.boolean(
            "Every version",
            "Back up every version of a version stack (under {stack name}/v{n}/) instead of only the head version.",
            False,
        ),
        "skip_existing": fields.boolean(
            "Skip existing copies",
            "Skip files already backed up: same key, same Frame.io asset id and size (and xxh64 when known).",
            True,
        ),
        "assets": fields.object_list(
            "More assets",
            "Further Frame.io assets backed up in the same run with the same destination (a multi-asset "
            'Action sets this): a JSON list such as [{"asset_id": "<id>", "asset_type": "file"}]. Empty: none.',
            ASSET_ITEM_SCHEMA,
            section="Set by Frame.io",
            maxItems=MAX_MORE_ASSETS,
        ),
        "interaction_id": fields.text(
            "Custom Action interaction",
            "Set by the Frame.io Custom Action webhook (the run id derives from it); leave empty.",
            section="Set by Frame.io",
            maxLength=256,
        ),
    },
)


def validate(conf: Mapping[str, Any]) -> None:
    """The rules across keys: an id to back up (not blank) and a bucket to write to."""
    if conf.get("asset_id") is None:
        raise InputError("asset_id is required: Id of the Frame.io file, folder, version stack or project to back up.")
    if not str(conf["asset_id"]).strip():
        raise InputError("asset_id is blank: give the id of a Frame.io file, folder, version stack or project.")
    if not conf.get("destination_bucket"):
        raise InputError("destination_bucket is required: name the S3 bucket the backup is written to.")
