"""Conf contract of `s3_bulk_copy` (keys as in the design notes; defaults sized for production).

Buckets have no built-in default: a deployment sets its own with MEDIAFLOW_CONF_DEFAULTS (the
local stack points them at its sample buckets)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from mediaflow.common import params as fields
from mediaflow.common.errors import InputError
from mediaflow.s3copy.routing import ObjectFilter, Router

GiB = 1024**3
#: per-run cap on concurrent copy tasks; read when the DAG file is parsed (see the Param)
MAX_PARALLEL_PAYLOADS_ENV = "MEDIAFLOW_MAX_PARALLEL_PAYLOADS"
MAX_PARALLEL_PAYLOADS = max(1, min(1024, int(os.environ.get(MAX_PARALLEL_PAYLOADS_ENV) or 16)))
STORAGE_CLASSES = [
    "STANDARD",
    "REDUCED_REDUNDANCY",
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
    "GLACIER",
    "DEEP_ARCHIVE",
    "GLACIER_IR",
]
ACLS = [
    "private",
    "public-read",
    "public-read-write",
    "authenticated-read",
    "aws-exec-read",
    "bucket-owner-read",
    "bucket-owner-full-control",
]
FILE_TYPE = {
    "type": "string",
    "minLength": 1,
    "maxLength": 32,
    "pattern": r"^(\*|\.?[A-Za-z0-9_\-]+)$",
    "x-hint": "a file extension such as mp4 or .mov, or * for any",
}
ROUTE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["file_types", "bucket"],
    "properties": {
        "file_types": {"type": "array", "minItems": 1, "items": FILE_TYPE},
        "bucket": {"type": "string", **fields.BUCKET_RULES},
        "prefix": {"type": "string", "maxLength": fields.MAX_KEY_LENGTH},
    },
}
FILTERS, COPIES, REPORT, TUNING = "Filters", "Copy options", "Report", "Tuning"

PARAMS = fields.with_deployment_defaults(
    "s3_bulk_copy",
    {
        "source_bucket": fields.bucket(
            "Source bucket",
            "Bucket to copy from by listing it. Required unless a manifest names the objects (see manifest_uri).",
        ),
        "source_prefix": fields.prefix(
            "Source prefix",
            "Only keys under this prefix are listed; it is removed from destination keys, as `aws s3 cp --recursive` "
            "does. Empty: the whole bucket.",
        ),
        "destination_bucket": fields.bucket(
            "Destination bucket", "Bucket to copy to. Required unless routes send each file type somewhere."
        ),
        "destination_prefix": fields.prefix(
            "Destination prefix", "Prefix put in front of every destination key (unused with routes). Empty: none."
        ),
        "dry_run": fields.boolean("Dry run", "Plan and report what would be copied, and copy nothing.", False),
        "manifest_uri": fields.s3_uri(
            "Manifest (instead of listing)",
            "An S3 Batch Operations CSV manifest (bucket,key[,version_id], keys URL-encoded; s3://bucket/manifest.csv) "
            "or an S3 Inventory manifest.json. A `failed` report of an earlier run works too. Leave empty to list "
            "the source bucket.",
            section="Manifest and routes",
        ),
        "routes": fields.object_list(
            "Routes by file type",
            'Send each file type to its own place: a JSON list of {"file_types": ["mp4"], "bucket": "...", '
            '"prefix": "..."}. The first route whose types match wins (extensions compared case-insensitively, '
            "'*' matches anything); objects no route matches are skipped and listed in the report. Empty: "
            "everything goes to the destination bucket.",
            ROUTE,
            section="Manifest and routes",
            minItems=1,
            maxItems=100,
        ),
        "file_types": fields.string_list(
            "File types",
            "Copy only these extensions, one per line (e.g. mp4, .mov). Empty: every type.",
            items=FILE_TYPE,
            section=FILTERS,
        ),
        "min_size": fields.integer(
            "Minimum size (bytes)",
            "Copy only objects of at least this many bytes. Empty: no minimum.",
            None,
            minimum=0,
            required=False,
            section=FILTERS,
        ),  # fmt: skip
        "max_size": fields.integer(
            "Maximum size (bytes)",
            "Copy only objects of at most this many bytes. Empty: no maximum.",
            None,
            minimum=0,
            required=False,
            section=FILTERS,
        ),  # fmt: skip
        "modified_after": fields.text(
            "Modified after",
            "Copy only objects modified after this time (with a time zone, e.g. 2024-05-01T00:00:00Z). Empty: any "
            "time.",
            section=FILTERS,
            format="date-time",
            **{"x-hint": "a date and time with a time zone, e.g. 2024-05-01T00:00:00Z"},
        ),
        "skip_existing": fields.boolean(
            "Skip existing copies",
            "Skip objects whose destination already has the same size and ETag, so a re-run copies only what is "
            "missing.",
            True,
            section=COPIES,
        ),
        "delete_source": fields.boolean(
            "Delete sources (move)",
            "Delete each source object after its copy is verified. Off by default.",
            False,
            section=COPIES,
        ),
        "acl": fields.choice(
            "Canned ACL",
            "Canned ACL for the copies, e.g. bucket-owner-full-control across accounts. Empty: the bucket's default.",
            None,
            ACLS,
            labels={"null": "bucket default"},
            required=False,
            section=COPIES,
        ),
        "storage_class": fields.choice(
            "Storage class",
            "Storage class of the copies. Empty: S3's default (STANDARD).",
            None,
            STORAGE_CLASSES,
            labels={"null": "S3 default"},
            required=False,
            section=COPIES,
        ),
        "sse_kms_key_id": fields.text(
            "KMS key",
            "KMS key (id, alias or ARN) to encrypt the copies with SSE-KMS. Empty: the bucket's default encryption.",
            section=COPIES,
            minLength=1,
            maxLength=2048,
        ),
        "report_bucket": fields.bucket(
            "Report bucket",
            "Bucket for the plan, report and summary. Empty: the destination bucket (or the first route's).",
            section=REPORT,
        ),
        "report_prefix": fields.prefix(
            "Report prefix",
            "Prefix for the run's plan, results, report.csv and summary.json (under <prefix>/<run id>/).",
            "mediaflow-reports/s3_bulk_copy",
            section=REPORT,
        ),
        "report_scope": fields.choice(
            "Report rows",
            "Rows in report.csv: every object, or only the failed ones.",
            "all",
            ["all", "failed"],
            section=REPORT,
        ),  # fmt: skip
        "max_payload_bytes": fields.integer(
            "Payload size (bytes)",
            "Largest payload (one mapped copy task) in bytes; grown automatically to stay within the mapping limit.",
            10 * GiB,
            minimum=1,
            section=TUNING,
        ),
        "max_payload_objects": fields.integer(
            "Objects per payload",
            "Most objects in one payload; grown automatically to stay within the mapping limit.",
            5_000,
            minimum=1,
            section=TUNING,
        ),
        "max_parallel_payloads": fields.integer(
            "Parallel payloads",
            "Most payload tasks of one run copying at the same time (all runs together are bounded by the s3_copy "
            "pool). Airflow fixes this when the DAG file is parsed: the deployment sets it with the environment "
            f"variable {MAX_PARALLEL_PAYLOADS_ENV} on the scheduler and dag-processor, and this form shows the value "
            "in force; a different value here only logs a warning.",
            MAX_PARALLEL_PAYLOADS,
            minimum=1,
            maximum=1024,
            section=TUNING,
        ),
        "multipart_threshold": fields.integer(
            "Multipart threshold (bytes)",
            "Objects larger than this are copied with UploadPartCopy in parts of 64 MiB or more (smaller with a "
            "smaller threshold, never under 5 MiB); smaller ones with one CopyObject. At most 5 GiB.",
            5 * GiB,
            minimum=5 * 1024**2,
            maximum=5 * GiB,
            section=TUNING,
        ),
    },
)


def validate(conf: Mapping[str, Any]) -> None:
    """The rules across keys, on the conf a run would get: a source, a destination (the same
    check the plan task makes), filters that can match, and not a copy of every object onto itself."""
    if not conf.get("source_bucket") and not conf.get("manifest_uri"):
        raise InputError(
            "nothing to copy: set source_bucket (to copy what is listed under source_prefix) or manifest_uri "
            "(to copy the objects a manifest names)."
        )
    source_prefix, destination_prefix = conf.get("source_prefix") or "", conf.get("destination_prefix") or ""
    Router.from_conf(conf.get("routes"), conf.get("destination_bucket"), destination_prefix, source_prefix)
    ObjectFilter.from_conf(
        conf.get("file_types"), conf.get("min_size"), conf.get("max_size"), conf.get("modified_after")
    )
    listing_only = not conf.get("manifest_uri") and not conf.get("routes")
    if (
        listing_only
        and conf.get("source_bucket") == conf.get("destination_bucket")
        and source_prefix == destination_prefix
    ):
        raise InputError(
            f"source and destination are both s3://{conf['source_bucket']}/{source_prefix}: every object would be "
            "copied onto itself. Set another destination_bucket or destination_prefix."
        )
