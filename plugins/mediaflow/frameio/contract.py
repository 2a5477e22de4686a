"""Conf contract of `frameio_backup` (keys as in DESIGN.md, plus `asset_type`)."""

from __future__ import annotations

from mediaflow.common import params as fields

PARAMS = {
    "asset_id": fields.string(
        "Frame.io id of the file, folder or version stack to back up, or of a project (then set asset_type to "
        "'project' and its root folder is backed up).",
        nullable=False,
        minLength=1,
        maxLength=128,
        title="Frame.io asset id",
    ),
    "asset_type": fields.Param(
        None,
        anyOf=[{"type": "null"}, {"type": "string", "enum": ["file", "folder", "version_stack", "project"]}],
        description="What asset_id names. Null: look it up (v2 reports it; v4 tries file, folder, version stack). "
        "A project id always needs 'project'.",
    ),
    "api_version": fields.choice(
        "Frame.io API: 'v4' (current; Adobe IMS client credentials) or 'v2' (legacy developer token).",
        "v4",
        ["v4", "v2"],
    ),
    "account_id": fields.string(
        "Frame.io v4 account id (null: the frameio_default connection's extra `account_id`). Ignored by v2."
    ),
    "destination_bucket": fields.bucket("S3 bucket the backup is written to."),
    "destination_prefix": fields.prefix(
        "Key prefix in the destination bucket; keys are {destination_prefix}/{Frame.io folder path}/{name}."
    ),
    "include_versions": fields.boolean(
        "Back up every version of a version stack (under {stack name}/v{n}/) instead of only the head version.",
        False,
    ),
    "skip_existing": fields.boolean(
        "Skip files already backed up: same key, same Frame.io asset id and size (and xxh64 when known).", True
    ),
    "interaction_id": fields.string(
        "Frame.io Custom Action interaction id; set by the webhook, which also derives the run id from it."
    ),
}
