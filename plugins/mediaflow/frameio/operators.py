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
from dataclasses import asdict
from functools import cached_property
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import BaseOperator, Context
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from mediaflow.common.aws import client_config
from mediaflow.common.conf import to_bool
from mediaflow.common.errors import InputError
from mediaflow.common.params import is_event_run
from mediaflow.common.s3 import parse_s3_uri
from mediaflow.common.tasks import fail_fast, max_map_length
from mediaflow.frameio.api import assign_keys, batch_label, batch_sizes, chunk, normalize_prefix
from mediaflow.frameio.backup import back_up_batch, batch_summary_lines, destination_uri, run_summary_lines
from mediaflow.frameio.client import Resolution, resolve
from mediaflow.frameio.hook import FrameioHook
from mediaflow.frameio.http_to_s3 import HttpToS3, TransferConfig, s3_client_config
from mediaflow.frameio.sources import upload_targets

PLAN_ROOT = "_mediaflow/frameio_backup"
#: the connection fields every operator here templates, as the Amazon provider's operators do
CONNECTION_FIELDS = ("frameio_conn_id", "aws_conn_id", "region_name")


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
        "destination_prefix": normalize_prefix(raw.get("destination_prefix") or ""),
        "include_versions": to_bool(raw.get("include_versions"), False),
        "skip_existing": to_bool(raw.get("skip_existing"), True),
        # an uploaded file keeps its Frame.io folder path in the key, as a project backup would
        "keep_path": to_bool(raw.get("keep_path"), False),
    }
    if not target["asset_id"]:
        raise InputError(
            f"Frame.io backup target {raw!r} has no asset_id: give the id of a file, folder, stack or project"
        )
    if not target["destination_bucket"]:
        raise InputError(f"Frame.io backup target {target['asset_id']} has no destination_bucket: name the S3 bucket")
    return target


class FrameioBaseOperator(BaseOperator):
    """What both backup operators share: a Frame.io and an S3 connection, each hook built once.

    :param frameio_conn_id: the Frame.io connection (templated)
    :param aws_conn_id: the AWS connection for S3 (templated); None uses boto3's default chain
    :param region_name: AWS region of the S3 client (templated); None takes the connection's
    """

    template_fields: Sequence[str] = CONNECTION_FIELDS

    def __init__(
        self,
        *,
        frameio_conn_id: str = FrameioHook.default_conn_name,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.frameio_conn_id = frameio_conn_id
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name

    @cached_property
    def frameio_hook(self) -> FrameioHook:
        return FrameioHook(self.frameio_conn_id)

    @cached_property
    def s3_hook(self) -> S3Hook:
        return S3Hook(aws_conn_id=self.aws_conn_id, region_name=self.region_name, config=client_config())


class FrameioResolveOperator(FrameioBaseOperator):
    """Walk each target in Frame.io and write batch plans to S3; return one descriptor per batch.

    An asset Frame.io refuses (no such id, no permission) fails the task at once, naming it;
    throttling and server errors that outlast the client's retries leave it to Airflow's.

    :param targets: backup targets, a list of dicts with the `frameio_backup` conf keys (or its
        JSON) (templated)
    :param targets_variable: instead of `targets`, the Airflow Variable (JSON) to read them from
        at run time, so scheduled backups pick up edits without a DAG change (templated)
    :param more_assets: further `{asset_id, asset_type}` backed up like the first target (the
        `assets` of a multi-asset Action) (templated)
    :param frameio_conn_id: the Frame.io connection (templated)
    :param aws_conn_id: the AWS connection for S3 (templated); None uses boto3's default chain
    :param region_name: AWS region of the S3 client (templated); None takes the connection's
    """

    template_fields: Sequence[str] = ("targets", "targets_variable", "more_assets", *CONNECTION_FIELDS)

    def __init__(
        self,
        *,
        targets: list[dict[str, Any]] | str | None = None,
        targets_variable: str | None = None,
        more_assets: list[dict[str, Any]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.targets = targets
        self.targets_variable = targets_variable
        self.more_assets = more_assets

    @fail_fast()
    def execute(self, context: Context) -> list[dict[str, Any]]:
        targets = self._event_targets(context) if is_event_run(context) else self._targets()
        resolved = [(target, self._resolve(target)) for target in targets]
        batches = self._write_plans(resolved, _run_folder(context["run_id"]))
        summary = {
            "targets": len(resolved),
            "files": sum(len(r.files) for _, r in resolved),
            "bytes": sum(f.size or 0 for _, r in resolved for f in r.files),
            "skipped": sum(len(r.skipped) for _, r in resolved),
            "batches": len(batches),
            "destinations": sorted({destination_uri(t) for t, _ in resolved}),
        }
        context["ti"].xcom_push(key="summary", value=summary)
        self.log.info("plan: %s", summary)
        return batches

    def _event_targets(self, context: Context) -> list[dict[str, Any]]:
        """The files of the Frame.io upload events this run consumed, one target each."""
        raw = upload_targets(context) or []
        self.log.info("%d uploaded file(s) from Frame.io upload events", len(raw))
        return [normalize_target(t) for t in raw]

    def _targets(self) -> list[dict[str, Any]]:
        raw = self.targets
        if raw is None and self.targets_variable:
            from airflow.sdk import Variable

            raw = Variable.get(self.targets_variable, default=None, deserialize_json=True)
        if isinstance(raw, str):
            raw = json.loads(raw)
        if not raw and self.targets_variable:
            raise AirflowSkipException(
                f"nothing to back up: set the Airflow Variable {self.targets_variable} to a JSON list of targets, "
                'e.g. [{"asset_id": "<project id>", "asset_type": "project", "destination_bucket": "<bucket>"}], '
                "or trigger with `targets` in the conf"
            )
        if not isinstance(raw, list):
            raise InputError(f"Frame.io backup targets must be a list of objects, got {type(raw).__name__}")
        targets = [normalize_target(t) for t in raw]
        if targets and self.more_assets:
            if not isinstance(self.more_assets, list):
                raise InputError("assets must be a list of {asset_id, asset_type} objects")
            first = targets[0]
            targets += [
                normalize_target({**first, "asset_id": more.get("asset_id"), "asset_type": more.get("asset_type")})
                for more in self.more_assets
            ]
        return targets

    def _resolve(self, target: dict[str, Any]) -> Resolution:
        client = self.frameio_hook.get_client(target["api_version"], target["account_id"])
        res = resolve(
            client, target["asset_id"], target["asset_type"], target["include_versions"], keep_path=target["keep_path"]
        )
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
        return res

    def _write_plans(self, resolved: list[tuple[dict[str, Any], Resolution]], folder: str) -> list[dict[str, Any]]:
        """One plan file per batch (and the skipped list per target) in the destination bucket."""
        size = batch_sizes([len(r.files) for _, r in resolved], max_map_length())
        s3 = self.s3_hook.conn
        batches: list[dict[str, Any]] = []
        for t_index, (target, res) in enumerate(resolved):
            bucket = target["destination_bucket"]
            for b_index, files in enumerate(chunk(res.files, size)):
                key = f"{folder}/plan-{t_index:03d}-{b_index:05d}.json"
                plan = {"target": target, "files": [asdict(f) for f in files]}
                s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(plan).encode())
                batches.append({"plan_uri": f"s3://{bucket}/{key}", "files": len(files), "label": batch_label(files)})
            s3.put_object(
                Bucket=bucket, Key=f"{folder}/skipped-{t_index:03d}.json", Body=json.dumps(res.skipped).encode()
            )
        return batches


class FrameioTransferOperator(FrameioBaseOperator):
    """Copy the files of one plan batch from Frame.io into S3, verifying size and xxh64.

    Each file fails on its own: the task tries the whole batch, then fails naming every file
    that did not copy, so one bad asset never hides the state of the others.

    :param batch: a descriptor returned by `FrameioResolveOperator` (`plan_uri`, `files`) (templated)
    :param multipart_threshold: files of at least this many bytes are copied as parallel ranged
        GETs into a multipart upload (templated)
    :param part_size: starting part size in bytes, doubled until the file fits in 10,000 parts (templated)
    :param max_concurrency: parts in flight at once (templated)
    :param frameio_conn_id: the Frame.io connection (templated)
    :param aws_conn_id: the AWS connection for S3 (templated); None uses boto3's default chain
    :param region_name: AWS region of the S3 client (templated); None takes the connection's
    """

    template_fields: Sequence[str] = (
        "batch",
        "multipart_threshold",
        "part_size",
        "max_concurrency",
        *CONNECTION_FIELDS,
    )

    def __init__(
        self,
        *,
        batch: dict[str, Any],
        multipart_threshold: int | str = 64 * 1024 * 1024,
        part_size: int | str = 8 * 1024 * 1024,
        max_concurrency: int | str = 8,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.batch = batch
        self.multipart_threshold = multipart_threshold
        self.part_size = part_size
        self.max_concurrency = max_concurrency

    @cached_property
    def s3_hook(self) -> S3Hook:
        """An S3 client shared by the part threads: a connection per part in flight."""
        config = s3_client_config(int(self.max_concurrency))
        return S3Hook(aws_conn_id=self.aws_conn_id, region_name=self.region_name, config=config)

    @fail_fast()
    def execute(self, context: Context) -> dict[str, int]:
        s3 = self.s3_hook.conn
        bucket, key = parse_s3_uri(self.batch["plan_uri"])
        plan = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        client = self.frameio_hook.get_client(plan["target"]["api_version"], plan["target"]["account_id"])
        result = back_up_batch(client, self._engine(s3), s3, plan)
        self.log.info("\n".join(batch_summary_lines(plan, result)))
        if result.failures:
            raise RuntimeError(
                f"{len(result.failures)} of {len(plan['files'])} Frame.io files did not back up:\n- "
                + "\n- ".join(result.failures)
            )
        return result.totals

    def _engine(self, s3: Any) -> HttpToS3:
        config = TransferConfig(
            multipart_threshold=int(self.multipart_threshold),
            part_size=int(self.part_size),
            max_concurrency=int(self.max_concurrency),
        )
        return HttpToS3(s3, config=config)


class FrameioSummaryOperator(BaseOperator):
    """Log what the whole run did: files backed up, skipped and failed, and where they went.

    Runs whatever the transfers did (all_done), and fails when one did, so the run's last task
    carries both the summary and the run's outcome."""

    @fail_fast()
    def execute(self, context: Context) -> dict[str, Any]:
        ti = context["ti"]
        plan = ti.xcom_pull(task_ids="resolve", key="summary")
        # a list of task ids: always a list back, even when one transfer task returned
        totals = [t for t in ti.xcom_pull(task_ids=["transfer"]) or [] if t]
        lines = run_summary_lines(plan, totals)
        self.log.info("\n".join(lines))
        failed = int((plan or {}).get("batches", len(totals))) - len(totals)
        if failed:
            raise AirflowFailException(f"{failed} transfer task(s) failed; their logs name each file that did not copy")
        return {
            k: sum(int(t.get(k, 0)) for t in totals)
            for k in ("copied", "skipped_existing", "skipped_no_original", "bytes")
        }


def frameio_backup_tasks(
    *, targets: Any, targets_variable: str | None = None, more_assets: Any = None, pre_execute: Any = None
) -> FrameioResolveOperator:
    """`resolve >> resolved >> transfer (mapped over the plan batches) >> summary`, shared by the
    triggered and the scheduled DAG. Tuning comes from Airflow Variables so it can change without
    a deploy; `pre_execute` runs before `resolve` (the DAG's conf check).

    `resolved` is an empty setup task: `summary` runs whatever the transfers did, but when resolve
    fails (or is skipped) it ends upstream_failed (or skipped) through it instead of running."""
    resolve_task = FrameioResolveOperator(
        task_id="resolve",
        targets=targets,
        targets_variable=targets_variable,
        more_assets=more_assets,
        pre_execute=pre_execute,
    )
    transfer = FrameioTransferOperator.partial(
        task_id="transfer",
        # the grid shows the file name (or the first of a batch) instead of a bare map index
        map_index_template="{{ task.batch.get('label', '') }}",
        multipart_threshold="{{ var.value.get('frameio_backup_multipart_threshold', 67108864) | int }}",
        part_size="{{ var.value.get('frameio_backup_part_size', 8388608) | int }}",
        max_concurrency="{{ var.value.get('frameio_backup_max_concurrency', 8) | int }}",
    ).expand(batch=resolve_task.output)
    summary = FrameioSummaryOperator(task_id="summary", trigger_rule="all_done")
    resolve_task >> EmptyOperator(task_id="resolved").as_setup() >> transfer >> summary
    return resolve_task
