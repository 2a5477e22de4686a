"""s3_bulk_copy: split the source, plan its shards (mapped), merge the plans, copy (mapped), complete
spread uploads, report."""

from __future__ import annotations

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG

from mediaflow.common.dag_defaults import DEFAULT_ARGS, S3_COPY_POOL
from mediaflow.common.params import ParamValue as P
from mediaflow.common.params import param_values
from mediaflow.common.tasks import refuse_bad_conf
from mediaflow.s3copy.contract import PARAMS
from mediaflow.s3copy.operators import (
    S3CopyCompleteOperator,
    S3CopyMergePlanOperator,
    S3CopyPayloadOperator,
    S3CopyPlanOperator,
    S3CopyReportOperator,
    S3CopySplitOperator,
)

# operators get each conf value with the type the user gave it (see ParamValue)
COMMON = param_values(
    "report_bucket",
    "report_prefix",
    "destination_bucket",
    "routes",
    "multipart_threshold",
    "skip_existing",
    "acl",
    "storage_class",
    "sse_kms_key_id",
    "dry_run",
)

with DAG(
    dag_id="s3_bulk_copy",
    schedule=None,
    catchup=False,
    default_args=DEFAULT_ARGS,
    params=PARAMS,
    tags=["mediaflow", "s3", "copy"],
    doc_md="""
### s3_bulk_copy
Server-side copy of many S3 objects, from 0 bytes to tens of TB, from a listing, an S3 Batch
Operations CSV manifest or an S3 Inventory report. `split` cuts the source into shards
(inventory data files, CSV byte ranges, listing prefixes); `plan` runs one mapped task per
shard that filters, routes and bin-packs its objects into bounded payloads in fixed memory;
`merge_plan` cuts all payloads into at most `max_map_length` copy tasks; `copy` runs one
mapped task per copy task (CopyObject, or UploadPartCopy above `multipart_threshold`); `complete_uploads`
finishes uploads whose parts several tasks copied; `report` writes `report.csv` (S3 Batch
Operations format) and `summary.json` under `report_prefix/<run id>/`, logs a short summary, and
fails the run if any object failed. When planning fails, the tasks after it end upstream_failed
(`planned` is the setup marker that does it). Re-runs skip what is already there. See
docs/dags/s3_bulk_copy.md.
""",
) as dag:
    SOURCE = {
        "source_bucket": P("source_bucket"),
        "source_prefix": P("source_prefix"),
        "manifest_uri": P("manifest_uri"),
        "destination_prefix": P("destination_prefix"),
        "file_types": P("file_types"),
        "min_size": P("min_size"),
        "max_size": P("max_size"),
        "modified_after": P("modified_after"),
        "max_payload_bytes": P("max_payload_bytes"),
        "max_payload_objects": P("max_payload_objects"),
        **COMMON,
    }
    split = S3CopySplitOperator(task_id="split", pre_execute=refuse_bad_conf("s3_bulk_copy"), **SOURCE)
    plan = S3CopyPlanOperator.partial(task_id="plan", **SOURCE).expand(shard=split.output)
    merge = S3CopyMergePlanOperator(task_id="merge_plan", shards=split.output, **SOURCE)
    copy = S3CopyPayloadOperator.partial(
        task_id="copy",
        pool=S3_COPY_POOL,
        # Airflow fixes task concurrency when the DAG is parsed: the contract's default applies
        max_active_tis_per_dagrun=PARAMS["max_parallel_payloads"].value,
        delete_source=P("delete_source"),
        # the grid shows "payload 3: 1204 objects, 12.50 GiB" instead of a bare map index
        map_index_template=(
            "payload {{ task.payload['index'] }}: {{ task.payload['objects'] }} objects, "
            "{{ '%.2f' | format(task.payload['bytes'] / 1073741824) }} GiB"
        ),
        **COMMON,
    ).expand(payload=merge.output)
    complete = S3CopyCompleteOperator(
        task_id="complete_uploads", trigger_rule="all_done", delete_source=P("delete_source"), **COMMON
    )
    report = S3CopyReportOperator(task_id="report", trigger_rule="all_done", report_scope=P("report_scope"), **COMMON)
    # A setup marker that a plan exists. complete_uploads and report run whatever the copies did
    # (all_done), but when planning fails this marker is upstream_failed, and Airflow marks them
    # upstream_failed too instead of running them into errors of their own. The marker, not the
    # plan, is the setup: clearing a copy task re-runs the marker, never the planning.
    planned = EmptyOperator(task_id="planned").as_setup()
    plan >> merge >> planned >> copy >> complete >> report
