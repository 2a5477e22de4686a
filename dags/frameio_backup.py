"""frameio_backup: copy a Frame.io file, folder, version stack or project into S3."""

from __future__ import annotations

from airflow.sdk import DAG

from mediaflow.common.dag_defaults import DEFAULT_ARGS
from mediaflow.common.params import ParamValue, param_values
from mediaflow.common.tasks import refuse_bad_conf
from mediaflow.frameio.contract import PARAMS
from mediaflow.frameio.operators import frameio_backup_tasks
from mediaflow.frameio.sources import FRAMEIO_UPLOADS

with DAG(
    dag_id="frameio_backup",
    # Frame.io upload events (POST /frameio/webhook) fold into runs on this asset; Actions and
    # REST calls trigger it with a conf
    schedule=[FRAMEIO_UPLOADS],
    catchup=False,
    max_active_runs=4,
    default_args=DEFAULT_ARGS,
    params=PARAMS,
    tags=["mediaflow", "frameio", "backup"],
    doc_md="""
### frameio_backup
Backs up one Frame.io asset into S3: a file, a folder (recursively, keeping the Frame.io folder
path in the key), a version stack (head version, or every version with `include_versions`), or
a project (`asset_type: "project"`). Triggered by a Frame.io Action (`POST /frameio/custom-action`,
run id derived from the interaction id; a multi-asset click backs up all its `assets` in one run),
by Frame.io upload events (`POST /frameio/webhook`: every uploaded file is backed up once, files
arriving together share a run), or the REST API.

`resolve` walks Frame.io and writes batch plans to `_mediaflow/frameio_backup/<run id>/` in the
destination bucket; `transfer` is mapped over the batches; `summary` logs what the run backed up,
skipped and failed. Large files are copied with parallel
ranged GETs into a multipart upload; every file is checked for size and xxh64 and tagged with its
Frame.io asset id, version and checksum. Re-runs skip what is already backed up.
Tuning Variables: `frameio_backup_multipart_threshold`, `frameio_backup_part_size`,
`frameio_backup_max_concurrency`. See docs/dags/frameio_backup.md.
""",
) as dag:
    frameio_backup_tasks(
        targets=[
            param_values(
                "asset_id",
                "asset_type",
                "api_version",
                "account_id",
                "destination_bucket",
                "destination_prefix",
                "include_versions",
                "skip_existing",
            )
        ],
        more_assets=ParamValue("assets"),
        pre_execute=refuse_bad_conf("frameio_backup"),
    )
