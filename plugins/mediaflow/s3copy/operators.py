"""Operators of the bulk S3 copy: plan, copy a payload, complete spread uploads, report.

Each stage reads and writes files under one work location in S3
(`s3://<report bucket>/<report_prefix>/<run id>/`), so XCom carries only payload descriptors,
every stage can be retried on its own, and a stage that runs again finds what the last attempt
wrote. The pure work (inventory, routing, packing, copying, reporting) is in
the pure modules beside it; these classes wire it to connections, XCom and logs, and call the
copy engine only through its public steps.
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import json
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from airflow.sdk import BaseOperator, Context
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from mediaflow.common.errors import InputError
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
from mediaflow.s3copy.inventory import archive_state, iter_listing, open_shard
from mediaflow.s3copy.journal import AbortedUpload, UploadJournal, settle_uploads
from mediaflow.s3copy.planning import (
    CopyItem,
    PayloadBin,
    PlanLimits,
    Planner,
    SortedLookup,
    SpreadObject,
    merge_payloads,
    merged_summary,
    read_payload,
    report_bucket_for,
    spare_core,
    work_prefix,
)
from mediaflow.s3copy.report import (
    PLANNED,
    ReportWriter,
    decode_results,
    encode_results,
    rejected_results,
    summary_lines,
)
from mediaflow.s3copy.routing import ObjectFilter, Router
from mediaflow.s3copy.sharding import DEFAULT_SHARDS, split_source

PLAN_FILE = "plan.json"
#: templated on every bulk copy operator, as on the Amazon provider's operators
AWS_TEMPLATE_FIELDS = ("aws_conn_id", "region_name")


class BulkCopyBaseOperator(BaseOperator):
    """Settings every stage of the bulk copy shares: the connection, the copy options and the
    run's work location (`s3://<report bucket>/<report_prefix>/<run id>/`).

    :param report_bucket: bucket of the plan, results and report; None uses the destination
        bucket, or the first route's.
    :param report_prefix: prefix of the run's work location.
    :param destination_bucket: bucket to copy to when there are no routes.
    :param routes: route by file type: a list of ``{file_types, bucket, prefix}``.
    :param multipart_threshold: objects larger than this (bytes) are copied in parts.
    :param skip_existing: skip objects whose destination already has the same size and ETag.
    :param delete_source: delete each source object after its copy is verified.
    :param acl: canned ACL of the copies.
    :param storage_class: storage class of the copies.
    :param sse_kms_key_id: KMS key to encrypt the copies with.
    :param dry_run: plan and report, copy nothing.
    :param threads: copy threads of one task, sharing one S3 client.
    :param aws_conn_id: the Airflow connection for AWS credentials (None: boto3's defaults).
    :param region_name: AWS region; None takes the connection's.
    """

    template_fields: Sequence[str] = AWS_TEMPLATE_FIELDS

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
        region_name: str | None = None,
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
        self.region_name = region_name

    def client(self) -> Any:
        """One S3 client for the task, with a connection for each copy thread."""
        return S3CopyHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name, threads=self.threads).conn

    def copy_options(self) -> CopyOptions:
        return CopyOptions(
            multipart_threshold=int(self.multipart_threshold),
            skip_existing=bool(self.skip_existing),
            delete_source=bool(self.delete_source),
            acl=self.acl or None,
            storage_class=self.storage_class or None,
            sse_kms_key_id=self.sse_kms_key_id or None,
        )

    def engine(self, s3: Any) -> CopyEngine:
        """The copy engine for the single steps of the plan and completion tasks."""
        return CopyEngine(s3, self.copy_options(), threads=1)

    def work(self, context: Context) -> tuple[str, str]:
        """(bucket, prefix) of this run's plan, results and report."""
        bucket = report_bucket_for(self.report_bucket, self.destination_bucket, self.routes)
        return bucket, work_prefix(self.report_prefix or "", context["run_id"])

    def journal(self, s3: Any, context: Context) -> UploadJournal:
        """The run's record of the multipart uploads its copy tasks started."""
        return UploadJournal(s3, *self.work(context))

    def read_plan(self, s3: Any, context: Context) -> dict[str, Any] | None:
        bucket, prefix = self.work(context)
        data = _get_or_none(s3, bucket, prefix + PLAN_FILE)
        return None if data is None else json.loads(data)

    def read_plan_or_fail(self, s3: Any, context: Context) -> dict[str, Any]:
        """The run's plan; none means the plan task did not finish, which no retry here fixes."""
        plan = self.read_plan(s3, context)
        if plan is None:
            raise AirflowFailException("no plan found for this run; the plan task did not finish, see its log")
        return plan


def _get_or_none(s3: Any, bucket: str, key: str) -> bytes | None:
    try:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None


def _unfinished_spread(plan: dict[str, Any]) -> Iterator[CopyResult]:
    """Objects copied by several tasks whose completion step wrote no result: failed."""
    for spread in plan.get("spread", ()):
        if spread.get("upload_id"):
            yield make_result(
                CopyItem(*spread["item"]),
                FAILED,
                "its parts were copied by several tasks, but complete_uploads did not finish it; run again",
                CopyError("IncompleteUpload", "not completed"),
            )


def _copy_task_cap(context: Context) -> int | None:
    dag = context.get("dag")
    task = dag.task_dict.get("copy") if dag is not None else None
    return getattr(task, "max_active_tis_per_dagrun", None)


class S3CopySourceOperator(BulkCopyBaseOperator):
    """The source and planning settings the split, plan and merge tasks share.

    :param source_bucket: bucket to list; leave empty when ``manifest_uri`` names the objects.
    :param source_prefix: only keys under this prefix; removed from destination keys.
    :param manifest_uri: an S3 Batch Operations CSV manifest or an S3 Inventory manifest.json.
    :param destination_prefix: prefix put in front of every destination key (without routes).
    :param file_types: copy only these extensions.
    :param min_size: copy only objects of at least this many bytes.
    :param max_size: copy only objects of at most this many bytes.
    :param modified_after: copy only objects modified after this ISO 8601 time.
    :param max_payload_bytes: largest payload manifest; a copy task takes one or more.
    :param max_payload_objects: most objects in one payload manifest.
    :param max_payloads: most copy tasks; None takes ``[core] max_map_length``.
    :param max_shards: most mapped plan tasks; None takes 64 (at most ``max_payloads``).

    The shared settings are those of :class:`BulkCopyBaseOperator`.
    """

    template_fields: Sequence[str] = (
        *AWS_TEMPLATE_FIELDS,
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
        max_shards: int | None = None,
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
        self.max_shards = max_shards

    def _checked_conf(self) -> tuple[Router, ObjectFilter, PlanLimits]:
        """The router, filter and limits from the conf; InputError (no retry) when it is bad."""
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
        return router, object_filter, limits

    def checks_destination(self) -> bool:
        """Check destinations while planning, with listings merged against the source's, when
        the order of destination keys follows the order of source keys: a listed source, one
        destination, and a source prefix that ends at a folder (or none). Inventories are not
        in key order (S3 Inventory promises no order, a CSV is in the order it was written):
        their objects are checked by the copy tasks, one HEAD each."""
        sp = self.source_prefix or ""
        return bool(self.skip_existing and not self.manifest_uri and not self.routes and (not sp or sp.endswith("/")))


class S3CopySplitOperator(S3CopySourceOperator):
    """Check the conf and split the source into shards for the mapped plan tasks (see
    `mediaflow.s3copy.sharding`); a re-run first aborts the spread uploads of its last plan.

    Returns the shards. Bad conf fails the task at its first try."""

    @fail_fast()
    def execute(self, context: Context) -> list[dict[str, Any]]:
        started = time.time()
        self._warn_if_parallelism_differs(context)
        _, _, limits = self._checked_conf()
        s3 = self.client()
        self._abort_previous_plan(s3, context)
        max_shards = min(int(self.max_shards or DEFAULT_SHARDS), limits.max_payloads, max_map_length())
        shards = split_source(
            s3,
            manifest_uri=self.manifest_uri or None,
            source_bucket=self.source_bucket,
            source_prefix=self.source_prefix or "",
            max_shards=max_shards,
        )
        self.log.info("source split into %s shards for planning", len(shards))
        return [dict(s, started_at=started) for s in shards]

    def _warn_if_parallelism_differs(self, context: Context) -> None:
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

    def _abort_previous_plan(self, s3: Any, context: Context) -> None:
        """A re-planned run must not leave the spread uploads of the earlier plan open, nor
        its plan for the later tasks to find."""
        previous = self.read_plan(s3, context)
        if not previous:
            return
        if not previous.get("dry_run"):
            _abort_spread(self.engine(s3), previous.get("spread", ()))
        bucket, prefix = self.work(context)
        s3.delete_object(Bucket=bucket, Key=prefix + PLAN_FILE)


def _abort_spread(engine: CopyEngine, spread: Any) -> None:
    for obj in spread:
        if obj.get("upload_id") and obj["upload_id"] != "dry-run":
            engine.abort_upload(CopyItem(*obj["item"]), obj["upload_id"])


def _shard_name(index: int) -> str:
    return f"plan/shard-{int(index):05d}"


class S3CopyPlanOperator(S3CopySourceOperator):
    """Plan one shard: stream its rows, filter and route them, pack payloads within the memory
    bound (see `mediaflow.s3copy.planning`), start the uploads whose parts several payloads
    share, and write the shard's manifest, payload index, rejected rows and plan to
    `<work>/plan/shard-NNNNN.*`. Returns a small summary; the merge task reads the rest.

    :param shard: one shard from the split task.

    The other settings are those of :class:`S3CopySourceOperator`.
    """

    # `shard` is not templated: it comes from `expand()`, and keys may hold "{{"

    def __init__(self, *, shard: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.shard = shard

    @fail_fast()
    def execute(self, context: Context) -> dict[str, Any]:
        router, object_filter, limits = self._checked_conf()
        s3 = self.client()
        bucket, prefix = self.work(context)
        name = _shard_name(self.shard["index"])
        previous = _get_or_none(s3, bucket, f"{prefix}{name}.json")
        if previous:  # this shard's earlier attempt (a dry run's uploads are not real)
            _abort_spread(self.engine(s3), json.loads(previous).get("spread", ()))
        with tempfile.TemporaryDirectory(prefix="s3-bulk-plan-") as tmp, spare_core() as spare:
            planner = Planner(router, object_filter, limits, Path(tmp) / "spool", pack_in_subprocess=spare)
            for rows, lookup in self._parts(s3, router):
                planner.dest_lookup = lookup
                planner.add_all(rows, archived=functools.partial(archive_state, s3))
            planner.pack()
            skipped = self._start_spread_uploads(s3, planner.spread)
            manifest = planner.write_manifests()
            rejected = planner.close()
            uploads = [
                (manifest, f"{prefix}{name}.jsonl.gz"),
                (planner.bins_path, f"{prefix}{name}.bins"),
                (rejected, f"{prefix}{name}-rejected.jsonl.gz"),
            ]
            with ThreadPoolExecutor(max_workers=3) as pool:
                list(pool.map(lambda pk: s3.upload_file(str(pk[0]), bucket, pk[1]), uploads))
        if skipped:
            s3.put_object(Bucket=bucket, Key=f"{prefix}{name}-spread-skipped.jsonl.gz", Body=encode_results(skipped))
        summary = planner.summary()
        summary["destination_checked"] = self.checks_destination()
        shard_plan = {
            "shard": self.shard,
            "manifest": f"s3://{bucket}/{prefix}{name}.jsonl.gz",
            "summary": summary,
            "spread": [s.to_json() for s in planner.spread],
            "spread_skipped": bool(skipped),
        }
        s3.put_object(Bucket=bucket, Key=f"{prefix}{name}.json", Body=json.dumps(shard_plan).encode())
        self.log.info(
            "shard %s: %s objects (%s bytes) in %s payloads, %s rejected, %s filtered out",
            self.shard["index"],
            planner.objects,
            planner.total_bytes,
            planner.payloads,
            planner.rejected,
            planner.filtered,
        )
        return {"shard": self.shard["index"], "objects": planner.objects, "payloads": planner.payloads}

    def _parts(self, s3: Any, router: Router) -> Iterator[tuple[Iterator[Any], SortedLookup | None]]:
        """The shard's rows, part by part, each with its destination lookup (or None)."""
        shard = self.shard
        if shard["kind"] != "listing":
            self.log.info("inventory: %s, shard %s", self.manifest_uri, shard)
            yield open_shard(s3, self.manifest_uri, shard, times=bool(self.modified_after)), None
            return
        check = self.checks_destination()
        for part in shard["parts"]:
            folder = part.get("prefix") or part.get("direct") or ""
            delimiter = "" if "prefix" in part else "/"
            self.log.info("inventory: listing s3://%s/%s%s", self.source_bucket, folder, " (direct)" * bool(delimiter))
            lookup = None
            if check:
                dest_bucket, dest_key = router.route(folder + "x") or ("", "x")
                listing = iter_listing(s3, dest_bucket, dest_key[:-1], delimiter=delimiter)
                lookup = SortedLookup(listing)
            yield iter_listing(s3, self.source_bucket, folder, delimiter=delimiter), lookup

    def _start_spread_uploads(self, s3: Any, spread: list[SpreadObject]) -> list[CopyResult]:
        """Create the uploads whose parts several payloads share (skipping up-to-date ones)."""
        if self.dry_run:
            for obj in spread:
                obj.upload_id = "dry-run"
            return []
        engine = self.engine(s3)
        skipped = []
        for obj in spread:
            if self.skip_existing and engine.up_to_date(obj.item):
                obj.upload_id = ""
                skipped.append(make_result(obj.item, SKIPPED, "destination already up to date"))
                continue
            obj.upload_id = engine.start_upload(obj.item)
        return skipped


class S3CopyMergePlanOperator(S3CopySourceOperator):
    """Merge the shards' plans: cut their payloads into at most ``max_payloads`` copy tasks
    (byte ranges of the shards' manifests; only the payload index lines are read), gather the
    rejected rows and spread uploads, and write the run's `plan.json`.

    Returns the copy task descriptors to map the copy over (none in a dry run).

    :param shards: the shards from the split task.

    The other settings are those of :class:`S3CopySourceOperator`.
    """

    # an XComArg in a template field is resolved, not rendered as Jinja
    template_fields: Sequence[str] = (*S3CopySourceOperator.template_fields, "shards")

    def __init__(self, *, shards: list[dict[str, Any]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.shards = shards

    @fail_fast()
    def execute(self, context: Context) -> list[dict[str, Any]]:
        _, _, limits = self._checked_conf()
        s3 = self.client()
        bucket, prefix = self.work(context)
        shards = list(self.shards)
        plans = []
        with tempfile.TemporaryDirectory(prefix="s3-bulk-merge-") as tmp:
            rejected = Path(tmp) / "rejected.jsonl.gz"
            skipped = Path(tmp) / "spread-skipped.jsonl.gz"
            with open(rejected, "wb") as rejected_out, open(skipped, "wb") as skipped_out:
                for shard in shards:
                    name = _shard_name(shard["index"])
                    plan = json.loads(s3.get_object(Bucket=bucket, Key=f"{prefix}{name}.json")["Body"].read())
                    s3.download_file(bucket, f"{prefix}{name}.bins", str(Path(tmp) / f"{shard['index']}.bins"))
                    # gzip files joined end to end are one gzip file: the report reads one of each
                    _append(s3, bucket, f"{prefix}{name}-rejected.jsonl.gz", rejected_out)
                    if plan.get("spread_skipped"):
                        _append(s3, bucket, f"{prefix}{name}-spread-skipped.jsonl.gz", skipped_out)
                    plans.append(plan)
            payloads = merge_payloads(
                (
                    (p["manifest"], p["summary"]["cost"], _read_bins(Path(tmp) / f"{p['shard']['index']}.bins"))
                    for p in plans
                ),
                limits,
                dest_checked=self.checks_destination(),
            )
            s3.upload_file(str(rejected), bucket, f"{prefix}plan/rejected.jsonl.gz")
            if skipped.stat().st_size:
                s3.upload_file(str(skipped), bucket, f"{prefix}results/spread-skipped.jsonl.gz")
        summary = merged_summary([p["summary"] for p in plans], payloads)
        plan = {
            "started_at": min((float(s.get("started_at") or time.time()) for s in shards), default=time.time()),
            "dry_run": bool(self.dry_run),
            "work": f"s3://{bucket}/{prefix}",
            "summary": summary,
            "shards": len(plans),
            "payloads": payloads,
            "spread": [s for p in plans for s in p["spread"]],
        }
        s3.put_object(Bucket=bucket, Key=prefix + PLAN_FILE, Body=json.dumps(plan).encode())
        self.log.info(
            "plan: %s objects (%s bytes) from %s shards in %s copy tasks (%s payload manifests), %s rejected, "
            "%s filtered out; written to s3://%s/%s",
            summary["objects"],
            summary["bytes"],
            len(plans),
            len(payloads),
            summary["manifests"],
            summary["rejected"],
            summary["filtered_out"],
            bucket,
            prefix,
        )
        return [] if self.dry_run else payloads


def _append(s3: Any, bucket: str, key: str, out: Any) -> None:
    """Stream an object onto the end of `out` (download_fileobj would write at offsets)."""
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    shutil.copyfileobj(body, out, 1024**2)


def _read_bins(path: Path) -> Iterator[PayloadBin]:
    with open(path, "rb") as fh:
        for line in fh:
            yield PayloadBin.parse(line)


class S3CopyPayloadOperator(BulkCopyBaseOperator):
    """Copy one payload: read its manifest, run the copy engine, write its results.

    Fails after writing the results if any object failed, so Airflow retries the payload
    (objects already copied are skipped on the retry).

    :param payload: the payload descriptor the plan task returned (``index``, ``uri`` of its
        manifest, ``bytes``, ``dest_checked``).
    :param progress_interval: seconds between progress lines in the log.

    The shared settings are those of :class:`BulkCopyBaseOperator`.
    """

    template_fields: Sequence[str] = (
        *AWS_TEMPLATE_FIELDS,
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
    def execute(self, context: Context) -> dict[str, Any]:
        s3 = self.client()
        index = self.payload["index"]
        items = self._items(s3)
        progress = CopyProgress(len(items), self.payload.get("bytes", 0), self.progress_interval, self.log.info)
        self.log.info("payload %s: %s items, %s bytes", index, len(items), self.payload.get("bytes"))
        results = copy_payload(
            s3,
            items,
            self._options(context),
            threads=self.threads,
            progress=progress,
            journal=self.journal(s3, context),
        )
        work_bucket, prefix = self.work(context)
        s3.put_object(
            Bucket=work_bucket, Key=f"{prefix}results/payload-{int(index):05d}.jsonl.gz", Body=encode_results(results)
        )
        self.log.info(progress.line())
        failed = [r for r in results if r.status in (FAILED, PARTS_FAILED)]
        if failed:
            first = "; ".join(r.message for r in failed[:3])
            raise AirflowException(f"payload {index}: {len(failed)} of {len(items)} failed: {first}")
        return dict(progress.counts, bytes=progress.bytes_copied, index=index)

    def _items(self, s3: Any) -> list[CopyItem]:
        return list(read_payload(s3, self.payload))

    def _options(self, context: Context) -> CopyOptions:
        options = self.copy_options()
        if self.payload.get("dest_checked") and context["ti"].try_number <= 1:
            # the plan compared these objects with the destination already; a retry checks
            # again, because the failed attempt may have copied some of them
            options = dataclasses.replace(options, skip_existing=False)
        return options


class S3CopyCompleteOperator(BulkCopyBaseOperator):
    """Complete the uploads whose parts were copied by several payload tasks, or abort them.

    Runs whatever the copy tasks did (trigger rule all_done): an upload with a missing part is
    aborted, so no orphaned parts stay behind. Completing and verifying is the engine's own
    `complete_upload`, the step that finishes the uploads it copies by itself.

    The settings are those of :class:`BulkCopyBaseOperator`.
    """

    template_fields: Sequence[str] = (
        *AWS_TEMPLATE_FIELDS,
        "report_bucket",
        "report_prefix",
        "destination_bucket",
        "routes",
        "delete_source",
        "multipart_threshold",
        "sse_kms_key_id",
    )

    @fail_fast()
    def execute(self, context: Context) -> dict[str, int]:
        s3 = self.client()
        plan = self.read_plan_or_fail(s3, context)
        engine = self.engine(s3)
        spread = [] if plan.get("dry_run") else [s for s in plan.get("spread", ()) if s.get("upload_id")]
        results = [engine.complete_spread_upload(CopyItem(*s["item"]), s["upload_id"], int(s["parts"])) for s in spread]
        if results:
            bucket, prefix = self.work(context)
            s3.put_object(Bucket=bucket, Key=f"{prefix}results/spread.jsonl.gz", Body=encode_results(results))
        done = sum(r.status == COPIED for r in results)
        self.log.info("spread uploads: %s completed, %s failed", done, len(results) - done)
        return {"completed": done, "failed": len(results) - done}


class S3CopyReportOperator(BulkCopyBaseOperator):
    """Write the completion report CSV and the JSON summary; fail if any object failed.

    :param report_scope: rows in ``report.csv``: ``"all"``, or only the ``"failed"`` ones.

    The shared settings are those of :class:`BulkCopyBaseOperator`.
    """

    template_fields: Sequence[str] = (
        *AWS_TEMPLATE_FIELDS,
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
    def execute(self, context: Context) -> dict[str, Any]:
        s3 = self.client()
        plan = self.read_plan_or_fail(s3, context)
        bucket, prefix = self.work(context)
        aborted = [] if plan.get("dry_run") else self._settle_uploads(s3, context, plan)
        writer, report_key = self._write_report(s3, bucket, prefix, plan)
        summary = writer.summary(
            time.time() - float(plan["started_at"]),
            report_uri=f"s3://{bucket}/{report_key}",
            plan_uri=f"s3://{bucket}/{prefix}{PLAN_FILE}",
            payloads=len(plan["payloads"]),
            aborted_uploads=[dataclasses.asdict(a) for a in aborted],
        )
        s3.put_object(Bucket=bucket, Key=f"{prefix}summary.json", Body=json.dumps(summary, indent=2).encode())
        self.log.info("\n".join(summary_lines(summary)))
        if summary["failed"]:
            raise AirflowException(
                f"{summary['failed']} of {summary['objects']} objects failed ({summary['copied']} copied, "
                f"{summary['skipped']} skipped); see the report at {summary['report_uri']}"
            )
        return {k: summary[k] for k in ("objects", "copied", "bytes", "skipped", "failed", "planned", "report_uri")}

    def _settle_uploads(self, s3: Any, context: Context, plan: dict[str, Any]) -> list[AbortedUpload]:
        """Abort every multipart upload of this run still open (see `journal.settle_uploads`);
        every copy and completion task has finished by now (trigger rule all_done). What had
        to be aborted was not completed, so its object is reported failed by its own row."""
        run_uploads = [
            (item.dest_bucket, item.dest_key, spread["upload_id"])
            for spread in plan.get("spread", ())
            if spread.get("upload_id")
            for item in [CopyItem(*spread["item"])]
        ]
        journal = self.journal(s3, context)
        buckets = {b for b, _, _ in run_uploads} | {e.dest_bucket for e in journal.entries()}
        buckets |= {r.get("bucket") for r in self.routes or () if r.get("bucket")}
        if self.destination_bucket:
            buckets.add(self.destination_bucket)
        aborted = settle_uploads(
            s3,
            journal,
            started_at=float(plan["started_at"]),
            buckets=buckets,
            run_uploads=run_uploads,
            in_plan=lambda keys: self._planned(s3, plan, keys),
        )
        for a in aborted:
            self.log.warning(
                "aborted multipart upload %s of s3://%s/%s (%s parts): %s",
                a.upload_id,
                a.bucket,
                a.key,
                a.parts,
                a.reason,
            )
        return aborted

    @staticmethod
    def _planned(s3: Any, plan: dict[str, Any], keys: set[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which of these (bucket, key) destinations the plan copies to, from its manifests."""
        found: set[tuple[str, str]] = set()
        for payload in plan["payloads"]:
            for item in read_payload(s3, payload):
                if (item.dest_bucket, item.dest_key) in keys:
                    found.add((item.dest_bucket, item.dest_key))
        return found

    def _write_report(self, s3: Any, bucket: str, prefix: str, plan: dict[str, Any]) -> tuple[ReportWriter, str]:
        """Stream every result (rejected rows, payloads, spread uploads) into `report.csv`."""
        report_key = f"{prefix}report.csv"
        with tempfile.TemporaryDirectory(prefix="s3-bulk-report-") as tmp:
            csv_path = Path(tmp) / "report.csv"
            with open(csv_path, "w", encoding="utf-8", newline="") as out:
                writer = ReportWriter(scope=self.report_scope or "all", dry_run=bool(plan["dry_run"]), out=out)
                rejected = s3.get_object(Bucket=bucket, Key=f"{prefix}plan/rejected.jsonl.gz")["Body"].read()
                writer.add_all(rejected_results(gzip.decompress(rejected).splitlines()))
                for payload in plan["payloads"]:
                    writer.add_all(self._payload_results(s3, bucket, prefix, payload, plan["dry_run"]))
                for name in ("spread.jsonl.gz", "spread-skipped.jsonl.gz"):
                    data = _get_or_none(s3, bucket, f"{prefix}results/{name}")
                    if data is not None:
                        writer.add_all(decode_results(data))
                    elif name == "spread.jsonl.gz" and not plan["dry_run"]:
                        writer.add_all(_unfinished_spread(plan))
            s3.upload_file(str(csv_path), bucket, report_key)
        return writer, report_key

    def _payload_results(
        self, s3: Any, bucket: str, prefix: str, payload: dict[str, Any], dry_run: bool
    ) -> Iterator[CopyResult]:
        key = f"{prefix}results/payload-{int(payload['index']):05d}.jsonl.gz"
        data = None if dry_run else _get_or_none(s3, bucket, key)
        if data is not None:
            yield from decode_results(data)
            return
        for item in read_payload(s3, payload):
            if dry_run and item.first_part <= 1:  # one row per object, not per chunk of parts
                yield make_result(item, PLANNED, f"dry run: would copy to s3://{item.dest_bucket}/{item.dest_key}")
            elif not item.is_parts:
                yield make_result(
                    item,
                    FAILED,
                    f"payload {payload['index']} was not copied (its task failed before writing results); run again",
                    CopyError("PayloadNotRun", "payload not run"),
                )
