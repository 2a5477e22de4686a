"""Conf contract of `s3_bulk_copy` (keys as in the design notes; defaults sized for production)."""

from __future__ import annotations

import os

from airflow.sdk import Param

from mediaflow.common import params as fields

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
FILE_TYPE = {"type": "string", "minLength": 1, "maxLength": 32, "pattern": r"^(\*|\.?[A-Za-z0-9_\-]+)$"}


def _nullable(description: str, schema: dict, default=None) -> Param:
    return Param(default, anyOf=[{"type": "null"}, schema], description=description)


PARAMS = {
    "source_bucket": fields.bucket(
        "Bucket to copy from by listing it (ListObjectsV2). Leave empty when manifest_uri names the objects.",
        required=False,
    ),
    "source_prefix": fields.prefix(
        "Only keys under this prefix are listed; it is removed from destination keys, as `aws s3 cp --recursive` does."
    ),
    "manifest_uri": fields.s3_uri(
        "Instead of listing: an S3 Batch Operations CSV manifest (bucket,key[,version_id], keys URL-encoded; "
        "s3://bucket/manifest.csv) or an S3 Inventory manifest.json. A `failed` report of an earlier run works too."
    ),
    "destination_bucket": fields.bucket(
        "Bucket to copy to, when routes is empty.",
        required=False,
    ),
    "destination_prefix": fields.prefix("Prefix put in front of every destination key (with routes: unused)."),
    "routes": Param(
        None,
        anyOf=[
            {"type": "null"},
            {
                "type": "array",
                "minItems": 1,
                "maxItems": 100,
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["file_types", "bucket"],
                    "properties": {
                        "file_types": {"type": "array", "minItems": 1, "items": FILE_TYPE},
                        "bucket": {"type": "string", "pattern": fields.BUCKET_PATTERN},
                        "prefix": {"type": "string", "maxLength": 1024},
                    },
                },
            },
        ],
        description=(
            "Route by file type: a list of {file_types, bucket, prefix}. The first route whose types match wins "
            "(extensions compared case-insensitively, '*' matches anything); objects no route matches are "
            "skipped and listed in the report."
        ),
    ),
    "file_types": _nullable(
        'Copy only these extensions (e.g. ["mp4", ".mov"]); empty copies every type.',
        {"type": "array", "items": FILE_TYPE},
    ),
    "min_size": fields.integer("Copy only objects of at least this many bytes.", None, minimum=0, nullable=True),
    "max_size": fields.integer("Copy only objects of at most this many bytes.", None, minimum=0, nullable=True),
    "modified_after": fields.string(
        "Copy only objects modified after this time (ISO 8601 with a time zone, e.g. 2024-05-01T00:00:00Z).",
        None,
        format="date-time",
    ),
    "max_payload_bytes": fields.integer(
        "Largest payload (one mapped copy task) in bytes; grown automatically to stay within the mapping limit.",
        10 * GiB,
        minimum=1,
    ),
    "max_payload_objects": fields.integer(
        "Most objects in one payload; grown automatically to stay within the mapping limit.",
        5_000,
        minimum=1,
    ),
    "max_parallel_payloads": fields.integer(
        "Most payload tasks of one run copying at the same time (the copy task's max_active_tis_per_dagrun; "
        "all runs together are bounded by the s3_copy pool). Airflow fixes this when the DAG file is parsed: "
        f"the deployment sets it with the environment variable {MAX_PARALLEL_PAYLOADS_ENV} on the scheduler and "
        "dag-processor, and this form shows the value in force; a different value here only logs a warning.",
        MAX_PARALLEL_PAYLOADS,
        minimum=1,
        maximum=1024,
    ),
    "multipart_threshold": fields.integer(
        "Objects larger than this (bytes) are copied with UploadPartCopy in parts of 64 MiB or more "
        "(smaller with a smaller threshold, never under 5 MiB); smaller ones with one CopyObject. At most 5 GiB.",
        5 * GiB,
        minimum=5 * 1024**2,
        maximum=5 * GiB,
    ),
    "skip_existing": fields.boolean(
        "Skip objects whose destination already has the same size and ETag, so a re-run copies only what is missing.",
        True,
    ),
    "delete_source": fields.boolean(
        "Delete each source object after its copy is verified (a move). Off by default.", False
    ),
    "acl": _nullable(
        "Canned ACL for the copies, e.g. bucket-owner-full-control across accounts.", {"type": "string", "enum": ACLS}
    ),
    "storage_class": _nullable(
        "Storage class of the copies; null keeps S3's default.", {"type": "string", "enum": STORAGE_CLASSES}
    ),
    "sse_kms_key_id": fields.string(
        "KMS key (id, alias or ARN) to encrypt the copies with SSE-KMS; null keeps the bucket default.",
        None,
        minLength=1,
        maxLength=2048,
    ),
    "report_bucket": fields.bucket(
        "Bucket for the plan, report and summary; null uses the destination bucket (or the first route's).",
        required=False,
    ),
    "report_prefix": fields.prefix(
        "Prefix for the run's plan, results, report.csv and summary.json (under <prefix>/<run id>/).",
        "mediaflow-reports/s3_bulk_copy",
    ),
    "report_scope": fields.choice(
        "Rows in report.csv: every object, or only the failed ones.", "all", ["all", "failed"]
    ),
    "dry_run": fields.boolean("Plan and report what would be copied, and copy nothing.", False),
}
