"""frameio_backup_scheduled: nightly incremental backup of configured Frame.io projects and folders."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG

from mediaflow.common.dag_defaults import DEFAULT_ARGS
from mediaflow.common.params import ParamValue
from mediaflow.common.tasks import refuse_bad_conf
from mediaflow.frameio.contract_scheduled import PARAMS, TARGETS_VARIABLE
from mediaflow.frameio.operators import frameio_backup_tasks

with DAG(
    dag_id="frameio_backup_scheduled",
    schedule="0 2 * * *",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    params=PARAMS,
    tags=["mediaflow", "frameio", "backup", "scheduled"],
    doc_md="""
### frameio_backup_scheduled
Every night at 02:00 UTC, backs up each target listed in the Airflow Variable
`frameio_backup_targets` (a JSON list of objects with the `frameio_backup` conf keys, e.g.
`[{"asset_id": "<project id>", "asset_type": "project", "destination_bucket": "media-backup"}]`).
It reuses the `frameio_backup` operators, and `skip_existing` (on by default) makes each run
copy only what changed: objects already backed up from the same asset id with the same size
and checksum are left alone. A manual run may pass `targets` in the conf instead.
""",
) as dag:
    frameio_backup_tasks(
        targets=ParamValue("targets"),
        targets_variable=TARGETS_VARIABLE,
        pre_execute=refuse_bad_conf("frameio_backup_scheduled"),
    )
