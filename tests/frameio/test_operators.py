"""The backup operators' Airflow-facing conventions: templated connections, hooks built once."""

from __future__ import annotations

from mediaflow.frameio.operators import FrameioResolveOperator, FrameioTransferOperator


def test_connection_ids_and_region_are_templated():
    context = {"params": {"fio": "frameio_backup_account", "aws": "aws_backup", "region": "eu-west-1"}}
    templated = {"frameio_conn_id": "{{ params.fio }}", "aws_conn_id": "{{ params.aws }}"}
    for op in (
        FrameioResolveOperator(task_id="resolve", targets=[], region_name="{{ params.region }}", **templated),
        FrameioTransferOperator(task_id="transfer", batch={}, region_name="{{ params.region }}", **templated),
    ):
        op.render_template_fields(context)
        assert op.frameio_hook.frameio_conn_id == "frameio_backup_account"
        assert op.s3_hook.aws_conn_id == "aws_backup"
        assert op.s3_hook.region_name == "eu-west-1"
        assert op.frameio_hook is op.frameio_hook and op.s3_hook is op.s3_hook  # built once per task
