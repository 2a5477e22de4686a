"""Operators of the Frame.io backup: resolve assets into batch plans, then copy each batch.

The resolve step walks Frame.io once and writes one plan file per batch to S3 (under
`_mediaflow/frameio_backup/<run id>/` in the destination bucket); XCom carries only the plan
URIs and counts. Transfer tasks are mapped over those plans: one file per task for ordinary
folders, files grouped so that even a 10,000+ file project stays within the mapping limit.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from airflow.sdk import BaseOperator

from mediaflow.common.conf import to_bool
from mediaflow.common.errors import InputError
from mediaflow.common.s3 import parse_s3_uri
from mediaflow.common.tasks import fail_fast, max_map_length
from mediaflow.frameio.api import assign_keys, batch_sizes, chunk
from mediaflow.frameio.client import FrameioError, Resolution, resolve
from mediaflow.frameio.hook import FrameioHook

PLAN_ROOT = "_mediaflow/frameio_backup"


def _run_folder(run_id: str) -> str:
    return f"{PLAN_ROOT}/{re.sub(r'[^A-Za-z0-9._=+-]', '_', run_id)}"


def normalize_target(raw: dict[str, Any]) -> dict[str, Any]:
    """One backup target with defaults applied; a clear error for what cannot work."""
    target = {
        "asset_id": str(raw.get("asset_id") or "").strip(),
        "asset_type": raw.get("asset_type") or None,
        "api_version": raw.get("api_version") or "v4",
        "account_id": raw.get("account_id") or None,
        "destination_bucket": raw.get("destination_bucket") or "",
        "destination_prefix": (raw.get("destination_prefix") or "").strip("/"),
        "include_versions": to_bool(raw.get("include_versions"), False),
        "skip_existing": to_bool(raw.get("skip_existing"), True),
    }
    if not target["asset_id"]:
        raise InputError(
            f"Frame.io backup target {raw!r} has no asset_id: give the id of a file, folder, stack or project"
        )
    if not target["destination_bucket"]:
        raise InputError(f"Frame.io backup target {target['asset_id']} has no destination_bucket: name the S3 bucket")
    return target


class FrameioResolveOperator(BaseOperator):
    """Walk each target in Frame.io and write batch plans to S3; return one descriptor per batch.

    `targets` is a list of dicts with the `frameio_backup` conf keys; with `targets_variable`
    instead, the list is read from that Airflow Variable (JSON) at run time, so scheduled
    backups pick up edits without a DAG change."""

    template_fields: Sequence[str] = ("targets", "targets_variable")

    def __init__(
        self,
        *,
        targets: list[dict[str, Any]] | str | None = None,
        targets_variable: str | None = None,
        frameio_conn_id: str = "frameio_default",
        aws_conn_id: str = "aws_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.targets = targets
        self.targets_variable = targets_variable
        self.frameio_conn_id = frameio_conn_id
        self.aws_conn_id = aws_conn_id

    def _targets(self) -> list[dict[str, Any]]:
        raw = self.targets
        if raw is None and self.targets_variable:
            from airflow.sdk import Variable

            raw = Variable.get(self.targets_variable, default=None, deserialize_json=True)
            if raw is None:
                self.log.warning("Variable %r is not set: nothing to back up", self.targets_variable)
                raw = []
        if isinstance(raw, str):
            raw = json.loads(raw)
        if not isinstance(raw, list):
            raise InputError(f"Frame.io backup targets must be a list of objects, got {type(raw).__name__}")
        return [normalize_target(t) for t in raw]

    @fail_fast()
    def execute(self, context: Any) -> list[dict[str, Any]]:
        targets = self._targets()
        resolved: list[tuple[dict[str, Any], Resolution]] = []
        for target in targets:
            hook = FrameioHook(self.frameio_conn_id, api_version=target["api_version"], account_id=target["account_id"])
            try:
                res = resolve(hook.get_conn(), target["asset_id"], target["asset_type"], target["include_versions"])
            except FrameioError as exc:
                raise RuntimeError(
                    f"Frame.io asset {target['asset_id']} ({target['api_version']}): {exc}. "
                    "Check the id, asset_type and account_id, and that the connection may read it."
                ) from None
            assign_keys(res.files, target["destination_prefix"])
            for skipped in res.skipped:
                self.log.warning(
                    "skipped %s/%s (%s): %s", skipped["path"], skipped["name"], skipped["asset_id"], skipped["reason"]
                )
            self.log.info(
                "%s %s %r: %d files, %d skipped",
                target["api_version"],
                res.root.type,
                res.root.name,
                len(res.files),
                len(res.skipped),
            )
            resolved.append((target, res))

        size = batch_sizes([len(r.files) for _, r in resolved], max_map_length())
        s3 = AwsBaseHook(aws_conn_id=self.aws_conn_id, client_type="s3").conn
        folder = _run_folder(context["run_id"])
        batches: list[dict[str, Any]] = []
        for t_index, (target, res) in enumerate(resolved):
            for b_index, files in enumerate(chunk(res.files, size)):
                key = f"{folder}/plan-{t_index:03d}-{b_index:05d}.json"
                plan = {"target": target, "files": [f.__dict__ for f in files]}
                s3.put_object(Bucket=target["destination_bucket"], Key=key, Body=json.dumps(plan).encode())
                batches.append({"plan_uri": f"s3://{target['destination_bucket']}/{key}", "files": len(files)})
            skipped_key = f"{folder}/skipped-{t_index:03d}.json"
            s3.put_object(Bucket=target["destination_bucket"], Key=skipped_key, Body=json.dumps(res.skipped).encode())
        summary = {
            "targets": len(resolved),
            "files": sum(len(r.files) for _, r in resolved),
            "bytes": sum(f.size or 0 for _, r in resolved for f in r.files),
            "skipped": sum(len(r.skipped) for _, r in resolved),
            "batches": len(batches),
        }
        context["ti"].xcom_push(key="summary", value=summary)
        self.log.info("plan: %s", summary)
        return batches


class FrameioTransferOperator(BaseOperator):
    """Copy the files of one plan batch from Frame.io into S3, verifying size and xxh64.

    Each file fails on its own: the task tries the whole batch, then fails naming every file
    that did not copy, so one bad asset never hides the state of the others."""

    template_fields: Sequence[str] = ("batch", "multipart_threshold", "part_size", "max_concurrency")

    def __init__(
        self,
        *,
        batch: dict[str, Any],
        multipart_threshold: int | str = 64 * 1024 * 1024,
        part_size: int | str = 8 * 1024 * 1024,
        max_concurrency: int | str = 8,
        frameio_conn_id: str = "frameio_default",
        aws_conn_id: str = "aws_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.batch = batch
        self.multipart_threshold = multipart_threshold
        self.part_size = part_size
        self.max_concurrency = max_concurrency
        self.frameio_conn_id = frameio_conn_id
        self.aws_conn_id = aws_conn_id

    @fail_fast()
    def execute(self, context: Any) -> dict[str, Any]:
        import requests
        from botocore.config import Config
        from requests.adapters import HTTPAdapter

        from mediaflow.frameio.backup import back_up_file
        from mediaflow.frameio.http_to_s3 import HttpToS3, TransferConfig, s3_client_config

        concurrency = int(self.max_concurrency)
        s3 = AwsBaseHook(
            aws_conn_id=self.aws_conn_id, client_type="s3", config=Config(**s3_client_config(concurrency))
        ).conn
        bucket, key = parse_s3_uri(self.batch["plan_uri"])
        plan = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        target = plan["target"]
        client = FrameioHook(
            self.frameio_conn_id, api_version=target["api_version"], account_id=target["account_id"]
        ).get_conn()
        session = requests.Session()
        session.mount("http://", HTTPAdapter(pool_maxsize=concurrency + 2))
        session.mount("https://", HTTPAdapter(pool_maxsize=concurrency + 2))
        engine = HttpToS3(
            s3,
            session,
            TransferConfig(
                multipart_threshold=int(self.multipart_threshold),
                part_size=int(self.part_size),
                max_concurrency=concurrency,
            ),
        )
        totals = {"copied": 0, "skipped_existing": 0, "skipped_no_original": 0, "bytes": 0, "failed": 0}
        failures: list[str] = []
        for entry in plan["files"]:
            outcome = back_up_file(client, engine, s3, target, entry)
            totals[outcome.status] = totals.get(outcome.status, 0) + 1
            totals["bytes"] += outcome.bytes
            self.log.info(
                "%s s3://%s/%s: %s", outcome.status, target["destination_bucket"], entry["key"], outcome.detail
            )
            if outcome.status == "failed":
                failures.append(
                    f"{entry['name']} (asset {entry['asset_id']}) -> s3://{target['destination_bucket']}/{entry['key']}: {outcome.detail}"
                )
        if failures:
            raise RuntimeError(
                f"{len(failures)} of {len(plan['files'])} Frame.io files did not back up:\n- " + "\n- ".join(failures)
            )
        return totals


def frameio_backup_tasks(
    *, targets: Any, targets_variable: str | None = None, pre_execute: Any = None
) -> FrameioResolveOperator:
    """`resolve >> transfer` (mapped over the plan batches), shared by the triggered and the
    scheduled DAG. Tuning comes from Airflow Variables so it can change without a deploy;
    `pre_execute` runs before `resolve` (the DAG's conf check)."""
    resolve_task = FrameioResolveOperator(
        task_id="resolve", targets=targets, targets_variable=targets_variable, pre_execute=pre_execute
    )
    FrameioTransferOperator.partial(
        task_id="transfer",
        multipart_threshold="{{ var.value.get('frameio_backup_multipart_threshold', 67108864) | int }}",
        part_size="{{ var.value.get('frameio_backup_part_size', 8388608) | int }}",
        max_concurrency="{{ var.value.get('frameio_backup_max_concurrency', 8) | int }}",
    ).expand(batch=resolve_task.output)
    return resolve_task
