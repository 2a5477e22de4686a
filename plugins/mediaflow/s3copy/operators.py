"""Operators of the bulk S3 copy: plan, copy a payload, complete spread uploads, report.

Each stage reads and writes files under one work location in S3
(`s3://<report bucket>/<report_prefix>/<run id>/`), so XCom carries only payload descriptors,
every stage can be retried on its own, and a stage that runs again finds what the last attempt
wrote. The pure work (inventory, routing, packing, copying, reporting) is in
the pure modules beside it; these classes wire it to connections, XCom and logs.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from mediaflow.common.errors import InputError
from mediaflow.common.s3 import parse_s3_uri
from mediaflow.common.tasks import fail_fast, max_map_length
from mediaflow.s3copy.engine import (
    COPIED,
    FAILED,
    PARTS_FAILED,
    SKIPPED,
    CopyEngine,
    CopyError,
    CopyOptions,
    CopyProgress,
    CopyResult,
    copy_payload,
    make_result,
)
from mediaflow.s3copy.hook import S3CopyHook
from mediaflow.s3copy.inventory import iter_listing, open_inventory, resolve_archived
from mediaflow.s3copy.planning import (
    CopyItem,
    PlanLimits,
    Planner,
    SortedLookup,
    SpreadObject,
    read_manifest,
    report_bucket_for,
    work_prefix,
)
from mediaflow.s3copy.report import PLANNED, ReportWriter, decode_results, encode_results, rejected_results
from mediaflow.s3copy.routing import ObjectFilter, Router

PLAN_FILE = "plan.json"


class _BulkCopyBase(BaseOperator):
    """Shared settings: the connection, the copy options and the run's work location."""

    def __init__(
        self,
        *,
        report_bucket: str | None = None,
        report_prefix: str = "",
        destination_bucket: str | None = None,
        routes: list[dict[str, Any]] | None = None,
        multipart_threshold: int = 5 * 1024**3,
        skip_existing: bool = True,
        delete_source: bool = False,
        acl: str | None = None,
        storage_class: str | None = None,
        sse_kms_key_id: str | None = None,
        dry_run: bool = False,
        threads: int = 32,
        aws_conn_id: str | None = "aws_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.report_bucket = report_bucket
        self.report_prefix = report_prefix
        self.destination_bucket = destination_bucket
        self.routes = routes
        self.multipart_threshold = multipart_threshold
        self.skip_existing = skip_existing
        self.delete_source = delete_source
        self.acl = acl
        self.storage_class = storage_class
        self.sse_kms_key_id = sse_kms_key_id
        self.dry_run = dry_run
        self.threads = threads
        self.aws_conn_id = aws_conn_id

    def client(self) -> Any:
        return S3CopyHook(aws_conn_id=self.aws_conn_id, threads=self.threads).conn

    def copy_options(self) -> CopyOptions:
        return CopyOptions(
            multipart_threshold=int(self.multipart_threshold),
            skip_existing=bool(self.skip_existing),
            delete_source=bool(self.delete_source),
            acl=self.acl or None,
            storage_class=self.storage_class or None,
            sse_kms_key_id=self.sse_kms_key_id or None,
        )

    def work(self, context: Any) -> tuple[str, str]:
        """(bucket, prefix) of this run's plan, results and report."""
        bucket = report_bucket_for(self.report_bucket, self.destination_bucket, self.routes)
        return bucket, work_prefix(self.report_prefix or "", context["run_id"])

    def read_plan(self, s3: Any, context: Any) -> dict[str, Any] | None:
        bucket, prefix = self.work(context)
        try:
            return json.loads(s3.get_object(Bucket=bucket, Key=prefix + PLAN_FILE)["Body"].read())
        except s3.exceptions.NoSuchKey:
            return None


def _copy_task_cap(context: Any) -> int | None:
    dag = context.get("dag")
    task = dag.task_dict.get("copy") if dag is not None else None
    return getattr(task, "max_active_tis_per_dagrun", None)


class S3CopyPlanOperator(_BulkCopyBase):
    """Stream the inventory, filter and route it, pack payloads and write their manifests.

    Returns the payload descriptors to map the copy over (none in a dry run)."""

    template_fields: Sequence[str] = (
        "source_bucket",
        "source_prefix",
        "manifest_uri",
        "destination_bucket",
        "destination_prefix",
        "routes",
        "file_types",
        "min_size",
        "max_size",
        "modified_after",
        "max_payload_bytes",
        "max_payload_objects",
        "multipart_threshold",
        "skip_existing",
        "acl",
        "storage_class",
        "sse_kms_key_id",
        "report_bucket",
        "report_prefix",
        "dry_run",
    )

    def __init__(
        self,
        *,
        source_bucket: str | None = None,
        source_prefix: str = "",
        manifest_uri: str | None = None,
        destination_prefix: str = "",
        file_types: list[str] | None = None,
        min_size: int | None = None,
        max_size: int | None = None,
        modified_after: str | None = None,
        max_payload_bytes: int = 10 * 1024**3,
        max_payload_objects: int = 5_000,
        max_payloads: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source_bucket = source_bucket
        self.source_prefix = source_prefix
        self.manifest_uri = manifest_uri
        self.destination_prefix = destination_prefix
        self.file_types = file_types
        self.min_size = min_size
        self.max_size = max_size
        self.modified_after = modified_after
        self.max_payload_bytes = max_payload_bytes
        self.max_payload_objects = max_payload_objects
        self.max_payloads = max_payloads

    def _warn_if_parallelism_differs(self, context: Any) -> None:
        """Say so when a run asks for a concurrency Airflow cannot give it per run."""
        from mediaflow.s3copy.contract import MAX_PARALLEL_PAYLOADS_ENV

        asked = (context.get("params") or {}).get("max_parallel_payloads")
        cap = _copy_task_cap(context)
        if asked is not None and cap is not None and int(asked) != int(cap):
            self.log.warning(
                "max_parallel_payloads=%s was asked for, but this deployment copies at most %s payloads of a run "
                "at once: Airflow fixes the cap when the DAG file is parsed. Set %s on the scheduler and "
                "dag-processor to change it.",
                asked,
                cap,
                MAX_PARALLEL_PAYLOADS_ENV,
            )

    @fail_fast()
    def execute(self, context: Any) -> list[dict[str, Any]]:
        started = time.time()
        self._warn_if_parallelism_differs(context)
        if not self.manifest_uri and not self.source_bucket:
            raise InputError("nothing to copy: set source_bucket (with source_prefix) or manifest_uri")
        router = Router.from_conf(
            self.routes, self.destination_bucket, self.destination_prefix or "", self.source_prefix or ""
        )
        object_filter = ObjectFilter.from_conf(self.file_types, self.min_size, self.max_size, self.modified_after)
        limits = PlanLimits(
            max_payload_bytes=int(self.max_payload_bytes),
            max_payload_objects=int(self.max_payload_objects),
            max_payloads=int(self.max_payloads or max_map_length()),
            multipart_threshold=int(self.multipart_threshold),
        )
        s3 = self.client()
        bucket, prefix = self.work(context)
        self._abort_previous_attempt(s3, context)
        if self.manifest_uri:
            rows = open_inventory(s3, self.manifest_uri)
            self.log.info("inventory: %s", self.manifest_uri)
        else:
            rows = iter_listing(s3, self.source_bucket, self.source_prefix or "")
            self.log.info("inventory: listing s3://%s/%s", self.source_bucket, self.source_prefix or "")
        lookup = self._destination_lookup(s3)
        with tempfile.TemporaryDirectory(prefix="s3-bulk-plan-") as tmp:
            planner = Planner(router, object_filter, limits, Path(tmp) / "spool", dest_lookup=lookup)
            planner.add_all(resolve_archived(s3, rows))
            planner.pack()
            if self.dry_run:
                for obj in planner.spread:
                    obj.upload_id = "dry-run"
                skipped = []
            else:
                skipped = self._start_spread_uploads(s3, planner.spread)
            paths = planner.write_manifests(Path(tmp) / "plan")
            rejected = planner.close()
            uploads = [(p, f"{prefix}plan/{p.name}") for p in paths] + [(rejected, f"{prefix}plan/{rejected.name}")]
            with ThreadPoolExecutor(max_workers=16) as pool:
                list(pool.map(lambda pk: s3.upload_file(str(pk[0]), bucket, pk[1]), uploads))
        if skipped:
            s3.put_object(Bucket=bucket, Key=f"{prefix}results/spread-skipped.jsonl.gz", Body=encode_results(skipped))
        payloads = [
            dict(p.to_json(), uri=f"s3://{bucket}/{prefix}plan/{p.uri}", dest_checked=lookup is not None)
            for p in planner.payloads
        ]
        plan = {
            "started_at": started,
            "dry_run": bool(self.dry_run),
            "work": f"s3://{bucket}/{prefix}",
            "summary": planner.summary(),
            "payloads": payloads,
            "spread": [s.to_json() for s in planner.spread],
        }
        s3.put_object(Bucket=bucket, Key=prefix + PLAN_FILE, Body=json.dumps(plan).encode())
        self.log.info(
            "plan: %s objects (%s bytes) in %s payloads, %s rejected, %s filtered out; written to s3://%s/%s",
            planner.objects,
            planner.total_bytes,
            len(payloads),
            planner.rejected,
            planner.filtered,
            bucket,
            prefix,
        )
        return [] if self.dry_run else payloads

    def _destination_lookup(self, s3: Any) -> SortedLookup | None:
        """Check destinations while planning, with one listing merged against the source's,
        when the order of destination keys follows the order of source keys: a listed source,
        one destination, and a source prefix that ends at a folder (or none)."""
        sp = self.source_prefix or ""
        if not self.skip_existing or self.manifest_uri or self.routes or (sp and not sp.endswith("/")):
            return None
        return SortedLookup(iter_listing(s3, self.destination_bucket, self.destination_prefix or ""))

    def _start_spread_uploads(self, s3: Any, spread: list[SpreadObject]) -> list[CopyResult]:
        """Create the uploads whose parts several payloads share (skipping up-to-date ones)."""
        engine = CopyEngine(s3, self.copy_options(), threads=1)
        skipped = []
        for obj in spread:
            if self.skip_existing and engine.up_to_date(obj.item):
                obj.upload_id = ""
                skipped.append(make_result(obj.item, SKIPPED, "destination already up to date"))
                continue
            obj.upload_id = engine.start_upload(obj.item)
        return skipped

    def _abort_previous_attempt(self, s3: Any, context: Any) -> None:
        """A re-planned run must not leave the spread uploads of the earlier plan open."""
        previous = self.read_plan(s3, context)
        if not previous:
            return
        engine = CopyEngine(s3, self.copy_options(), threads=1)
        for spread in previous.get("spread", ()):
            if spread.get("upload_id") and not previous.get("dry_run"):
                engine.abort_upload(CopyItem(*spread["item"]), spread["upload_id"])


class S3CopyPayloadOperator(_BulkCopyBase):
    """Copy one payload: read its manifest, run the copy engine, write its results.

    Fails after writing the results if any object failed, so Airflow retries the payload
    (objects already copied are skipped on the retry)."""

    template_fields: Sequence[str] = (
        "payload",
        "multipart_threshold",
        "skip_existing",
        "delete_source",
        "acl",
        "storage_class",
        "sse_kms_key_id",
        "report_bucket",
        "report_prefix",
        "destination_bucket",
        "routes",
    )

    def __init__(self, *, payload: dict[str, Any], progress_interval: float = 15.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.payload = payload
        self.progress_interval = progress_interval

    @fail_fast()
    def execute(self, context: Any) -> dict[str, Any]:
        s3 = self.client()
        bucket, key = parse_s3_uri(self.payload["uri"])
        items = list(read_manifest(gzip.decompress(s3.get_object(Bucket=bucket, Key=key)["Body"].read()).splitlines()))
        progress = CopyProgress(len(items), self.payload.get("bytes", 0), self.progress_interval, self.log.info)
        self.log.info("payload %s: %s items, %s bytes", self.payload["index"], len(items), self.payload.get("bytes"))
        options = self.copy_options()
        if self.payload.get("dest_checked") and context["ti"].try_number <= 1:
            # the plan compared these objects with the destination already; a retry checks
            # again, because the failed attempt may have copied some of them
            options = dataclasses.replace(options, skip_existing=False)
        results = copy_payload(s3, items, options, threads=self.threads, progress=progress)
        work_bucket, prefix = self.work(context)
        s3.put_object(
            Bucket=work_bucket,
            Key=f"{prefix}results/payload-{int(self.payload['index']):05d}.jsonl.gz",
            Body=encode_results(results),
        )
        self.log.info(progress.line())
        counts = dict(progress.counts, bytes=progress.bytes_copied, index=self.payload["index"])
        failed = [r for r in results if r.status in (FAILED, PARTS_FAILED)]
        if failed:
            first = "; ".join(r.message for r in failed[:3])
            raise AirflowException(f"payload {self.payload['index']}: {len(failed)} of {len(items)} failed: {first}")
        return counts


class S3CopyCompleteOperator(_BulkCopyBase):
    """Complete the uploads whose parts were copied by several payload tasks, or abort them.

    Runs whatever the copy tasks did (trigger rule all_done): an upload with a missing part is
    aborted, so no orphaned parts stay behind."""

    template_fields: Sequence[str] = (
        "report_bucket",
        "report_prefix",
        "destination_bucket",
        "routes",
        "delete_source",
        "multipart_threshold",
        "sse_kms_key_id",
    )

    @fail_fast()
    def execute(self, context: Any) -> dict[str, int]:
        s3 = self.client()
        plan = self.read_plan(s3, context)
        if plan is None:
            raise AirflowFailException("no plan found for this run; the plan task did not finish, see its log")
        engine = CopyEngine(s3, self.copy_options(), threads=1)
        results = []
        for spread in plan.get("spread", ()):
            if not spread.get("upload_id") or plan.get("dry_run"):
                continue
            item = CopyItem(*spread["item"])
            results.append(engine.complete_spread_upload(item, spread["upload_id"], int(spread["parts"])))
        if results:
            bucket, prefix = self.work(context)
            s3.put_object(Bucket=bucket, Key=f"{prefix}results/spread.jsonl.gz", Body=encode_results(results))
        done = sum(r.status == COPIED for r in results)
        self.log.info("spread uploads: %s completed, %s failed", done, len(results) - done)
        return {"completed": done, "failed": len(results) - done}


class S3CopyReportOperator(_BulkCopyBase):
    """Write the completion report CSV and the JSON summary; fail if any object failed."""

    template_fields: Sequence[str] = (
        "report_bucket",
        "report_prefix",
        "report_scope",
        "destination_bucket",
        "routes",
        "dry_run",
    )

    def __init__(self, *, report_scope: str = "all", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.report_scope = report_scope

    @fail_fast()
    def execute(self, context: Any) -> dict[str, Any]:
        s3 = self.client()
        plan = self.read_plan(s3, context)
        if plan is None:
            raise AirflowFailException("no plan found for this run; the plan task failed, see its log")
        bucket, prefix = self.work(context)
        with tempfile.TemporaryDirectory(prefix="s3-bulk-report-") as tmp:
            csv_path = Path(tmp) / "report.csv"
            with open(csv_path, "w", encoding="utf-8", newline="") as out:
                writer = ReportWriter(scope=self.report_scope or "all", dry_run=bool(plan["dry_run"]), out=out)
                rejected = s3.get_object(Bucket=bucket, Key=f"{prefix}plan/rejected.jsonl.gz")["Body"].read()
                writer.add_all(rejected_results(gzip.decompress(rejected).splitlines()))
                for payload in plan["payloads"]:
                    writer.add_all(self._payload_results(s3, bucket, prefix, payload, plan["dry_run"]))
                for name in ("spread.jsonl.gz", "spread-skipped.jsonl.gz"):
                    data = self._get(s3, bucket, f"{prefix}results/{name}")
                    if data is not None:
                        writer.add_all(decode_results(data))
            report_key = f"{prefix}report.csv"
            s3.upload_file(str(csv_path), bucket, report_key)
        summary = writer.summary(
            time.time() - float(plan["started_at"]),
            report_uri=f"s3://{bucket}/{report_key}",
            plan_uri=f"s3://{bucket}/{prefix}{PLAN_FILE}",
            payloads=len(plan["payloads"]),
        )
        s3.put_object(Bucket=bucket, Key=f"{prefix}summary.json", Body=json.dumps(summary, indent=2).encode())
        self.log.info("report: %s", json.dumps(summary))
        if summary["failed"]:
            raise AirflowException(
                f"{summary['failed']} of {summary['objects']} objects failed ({summary['copied']} copied, "
                f"{summary['skipped']} skipped); see the report at {summary['report_uri']}"
            )
        return {k: summary[k] for k in ("objects", "copied", "bytes", "skipped", "failed", "planned", "report_uri")}

    @staticmethod
    def _get(s3: Any, bucket: str, key: str) -> bytes | None:
        try:
            return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except s3.exceptions.NoSuchKey:
            return None

    def _payload_results(self, s3: Any, bucket: str, prefix: str, payload: dict[str, Any], dry_run: bool):
        data = (
            None if dry_run else self._get(s3, bucket, f"{prefix}results/payload-{int(payload['index']):05d}.jsonl.gz")
        )
        if data is not None:
            yield from decode_results(data)
            return
        mb, mk = parse_s3_uri(payload["uri"])
        for item in read_manifest(gzip.decompress(s3.get_object(Bucket=mb, Key=mk)["Body"].read()).splitlines()):
            if dry_run and item.first_part <= 1:  # one row per object, not per chunk of parts
                yield make_result(item, PLANNED, f"dry run: would copy to s3://{item.dest_bucket}/{item.dest_key}")
            elif not item.is_parts:
                yield make_result(
                    item,
                    FAILED,
                    f"payload {payload['index']} was not copied (its task failed before writing results); run again",
                    CopyError("PayloadNotRun", "payload not run"),
                )
