"""Our engines, each run in its own process so its wall time and peak RSS are its own.

`python -m bench.ours <engine> ...` reads the endpoint and credentials from the environment
(`BENCH_S3_ENDPOINT`, the usual `AWS_*` variables) and prints one JSON line of measurements.
The engines are called exactly as the operators call them; only the Airflow wiring is absent.
"""

from __future__ import annotations

import argparse
import collections
import functools
import json
import os
import resource
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any


def _client(threads: int, service: str = "s3", endpoint: str | None = None, retry_mode: str | None = None) -> Any:
    """The client the copy task builds; `retry_mode` swaps botocore's retry mode (standard or
    adaptive) for the retry measurement, keeping the attempt count."""
    import boto3
    from botocore.config import Config

    from mediaflow.common.aws import MAX_ATTEMPTS
    from mediaflow.s3copy.engine import shared_client_config

    config = shared_client_config(threads)
    if retry_mode:
        config = config.merge(Config(retries={"mode": retry_mode, "max_attempts": MAX_ATTEMPTS}))
    return boto3.client(service, endpoint_url=endpoint or os.environ["BENCH_S3_ENDPOINT"], config=config)


def _count_requests(client: Any) -> collections.Counter[str]:
    """Count API calls by operation (HeadObject, CopyObject, ...): requests per object is the
    first thing to compare with the ceiling script."""
    counts: collections.Counter[str] = collections.Counter()

    def count(model: Any, **_: Any) -> None:
        counts[model.name] += 1

    client.meta.events.register("before-call.s3.*", count)
    return counts


def _timed(cls: type, names: tuple[str, ...], steps: dict[str, float]) -> None:
    """Wrap methods so the time spent in each (wall seconds, summed over calls) is reported."""
    for name in names:
        original = getattr(cls, name)

        def wrapper(*args: Any, _original: Any = original, _key: str = f"{cls.__name__}.{name}", **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                steps[_key] = steps.get(_key, 0.0) + time.perf_counter() - started

        setattr(cls, name, wrapper)


def _maxrss_mib() -> float:
    """Peak RSS of this process since its exec: VmHWM. (`ru_maxrss` would be wrong here: on
    Linux it survives exec, so a child inherits the harness's RSS at fork time.)"""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


_STARTED = time.perf_counter()


def _emit(started: float, *, with_children: bool = False, **values: Any) -> None:
    """One JSON line: the engine's own timings, peak RSS, and the time spent before the engine
    ran (imports and client set-up), so startup cost is visible next to the work.

    `with_children`: the peak RSS adds the largest child's (a planner's packing process). Its
    `ru_maxrss` counts from its fork, so it includes what it shared with this process then:
    the sum overstates the pair a little, never understates it."""
    setup = round(started - _STARTED, 3)
    rss = _maxrss_mib()
    if with_children:
        child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        values["children_maxrss_mib"] = round(child, 1)
        rss += child
    print(json.dumps({**values, "setup_s": setup, "maxrss_mib": round(rss, 1)}), flush=True)


def copy(args: argparse.Namespace) -> None:
    """The bulk copy's pure path, as its plan and copy tasks run it without Airflow: list the
    source, check the destination with one merged listing, pack payloads, then copy each
    payload with the engine (one shared client, a thread pool), objects already compared by
    the plan not checked again."""
    import dataclasses
    import gzip
    import tempfile

    from mediaflow.s3copy.engine import FAILED, CopyOptions, copy_payload
    from mediaflow.s3copy.inventory import iter_listing
    from mediaflow.s3copy.planning import PlanLimits, Planner, SortedLookup, read_manifest
    from mediaflow.s3copy.routing import ObjectFilter, Router

    s3 = _client(args.threads, retry_mode=args.retry_mode)
    requests = _count_requests(s3)
    started = time.perf_counter()
    options = CopyOptions(multipart_threshold=args.multipart_threshold)
    router = Router.from_conf(None, args.dst_bucket, args.dst_prefix, args.src_prefix)
    lookup = SortedLookup(iter_listing(s3, args.dst_bucket, args.dst_prefix))
    limits = PlanLimits(multipart_threshold=args.multipart_threshold)
    with tempfile.TemporaryDirectory(prefix="bench-copy-") as tmp:
        planner = Planner(router, ObjectFilter.from_conf(), limits, Path(tmp) / "spool", dest_lookup=lookup)
        planner.add_all(iter_listing(s3, args.src_bucket, args.src_prefix))
        planner.pack()
        if planner.spread:
            sys.exit("objects larger than a payload (spread uploads) are not part of these workloads")
        manifest = planner.write_manifests().read_bytes()
        planner.close()
        payloads = [
            list(read_manifest(gzip.decompress(manifest[p.offset : p.offset + p.length]).splitlines()))
            for p in planner.bins()
        ]
    planned = time.perf_counter()
    results = []
    for items in payloads:  # the DAG maps one task per payload; here they run one after another
        results += copy_payload(s3, items, dataclasses.replace(options, skip_existing=False), threads=args.threads)
    done = time.perf_counter()
    failed = [r for r in results if r.status == FAILED]
    if failed and not args.keep_going:
        sys.exit(f"{len(failed)} of {len(results)} failed, first: {failed[0].message}")
    calls = {f"requests_{op}": n for op, n in requests.items()}
    _emit(
        started,
        objects=len(results),
        failed=len(failed),
        failed_codes=dict(collections.Counter(r.error_code for r in failed)),
        payloads=len(payloads),
        list_s=planned - started,
        engine_s=done - planned,
        **calls,
    )


def ceiling(args: argparse.Namespace) -> None:
    """The server's ceiling: list, then one CopyObject per key on a thread pool, nothing else."""
    s3 = _client(args.threads)
    requests = _count_requests(s3)
    started = time.perf_counter()
    keys = [
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=args.src_bucket, Prefix=args.src_prefix)
        for o in page.get("Contents", ())
    ]

    def one(key: str) -> None:
        s3.copy_object(
            Bucket=args.dst_bucket,
            Key=args.dst_prefix + key[len(args.src_prefix) :],
            CopySource={"Bucket": args.src_bucket, "Key": key},
        )

    listed = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.threads) as pool:
        list(pool.map(one, keys))
    calls = {f"requests_{op}": n for op, n in requests.items()}
    _emit(started, objects=len(keys), list_s=listed - started, engine_s=time.perf_counter() - listed, **calls)


def http(args: argparse.Namespace) -> None:
    """The Frame.io path: ranged GETs from an HTTP server into an S3 multipart upload, with the
    client, session and settings the backup operator builds (its defaults: 8 parts at once)."""
    import boto3

    from mediaflow.frameio.http_to_s3 import HttpToS3, TransferConfig, TransferSpec, s3_client_config

    concurrency = 8
    s3 = boto3.client("s3", endpoint_url=os.environ["BENCH_S3_ENDPOINT"], config=s3_client_config(concurrency))
    engine = HttpToS3(s3, config=TransferConfig(max_concurrency=concurrency))
    started = time.perf_counter()
    result = engine.transfer(TransferSpec(url=args.url, bucket=args.bucket, key=args.key, size=args.size))
    _emit(started, engine_s=time.perf_counter() - started, bytes=result.size, parts=result.parts)


def plan(args: argparse.Namespace) -> None:
    """W6: one plan task's work on one shard: stream S3 Inventory data files (gzip CSV, read
    from local disk) through the planner into one payload manifest and its payload index."""
    from mediaflow.s3copy.inventory import archive_state, iter_inventory_rows
    from mediaflow.s3copy.planning import PlanLimits, Planner, spare_core
    from mediaflow.s3copy.routing import ObjectFilter, Router

    started = time.perf_counter()
    router = Router.from_conf(None, args.dst_bucket, "", "")
    manifest = {"fileFormat": "CSV", "fileSchema": args.schema, "files": [{"key": f} for f in args.data]}
    out = Path(args.out)
    with spare_core() as spare:  # as the plan task decides where to pack
        planner = Planner(router, ObjectFilter.from_conf(), PlanLimits(), out, pack_in_subprocess=spare)
        # as the plan task reads it without a modified_after filter: times are not parsed
        rows = iter_inventory_rows(manifest, lambda _bucket, key: open(key, "rb"), times=False)  # noqa: SIM115
        # with the archive hook the plan task passes (no S3 here: no synthetic object is archived)
        planner.add_all(rows, archived=functools.partial(archive_state, None))
        planner.pack()
        for spread in planner.spread:
            spread.upload_id = "planned"  # the plan task starts these uploads; not part of planning
        path = planner.write_manifests()
        planner.close()
    (out / "summary.json").write_text(json.dumps(planner.summary()))
    _emit(
        started,
        with_children=True,
        engine_s=time.perf_counter() - started,
        rows=planner.seen,
        objects=planner.objects,
        payloads=planner.payloads,
        cost=planner.cost,
        manifest_bytes=path.stat().st_size,
        packing_process=spare,
    )


def merge(args: argparse.Namespace) -> None:
    """W6: the merge task's work: cut the shards' payloads into at most 1,024 copy tasks."""
    from mediaflow.s3copy.planning import PayloadBin, PlanLimits, merge_payloads

    started = time.perf_counter()

    def bins(path: Path):  # noqa: ANN202 - a generator of PayloadBin
        with open(path, "rb") as fh:
            yield from (PayloadBin.parse(line) for line in fh)

    shards = []
    for spool in args.spool:
        summary = json.loads(Path(spool, "summary.json").read_text())
        shards.append((f"s3://work/{Path(spool).name}.jsonl.gz", summary["cost"], bins(Path(spool, "payloads.bins"))))
    tasks = merge_payloads(shards, PlanLimits(max_payloads=1024))
    _emit(
        started,
        engine_s=time.perf_counter() - started,
        tasks=len(tasks),
        objects=sum(t["objects"] for t in tasks),
        segments=sum(len(t["segments"]) for t in tasks),
    )


def segment(args: argparse.Namespace) -> None:
    """W5: the segment-and-index operator's work (probe, ffmpeg copy-mode segment, parallel
    upload, DynamoDB index) for one video, without a scheduler around it."""
    from mediaflow.video.hook import FfmpegHook
    from mediaflow.video.index_table import VideoIndexTable
    from mediaflow.video.operators import VideoSegmentIndexOperator

    steps: dict[str, float] = {}
    _timed(VideoSegmentIndexOperator, ("_head", "_open", "_segment", "_upload", "_already_indexed"), steps)
    _timed(FfmpegHook, ("probe", "run", "presigned_url"), steps)
    _timed(VideoIndexTable, ("put", "check_conflicts", "get"), steps)
    op = VideoSegmentIndexOperator(
        task_id="bench_segment",
        video={"bucket": args.bucket, "key": args.key},
        segment_seconds=args.seconds,
        mode="copy",
        output_bucket=args.output_bucket,
        output_key_prefix=args.output_prefix,
        table_name=args.table,
        force=True,
        work_dir=args.work,
    )
    started = time.perf_counter()
    result = op.execute({})
    timings = {f"step_{k}_s": round(v, 3) for k, v in steps.items()}
    _emit(started, engine_s=time.perf_counter() - started, segments=result.get("segments", 0), **timings)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ours")
    sub = parser.add_subparsers(dest="engine", required=True)
    for name, fn in (("copy", copy), ("ceiling", ceiling)):
        p = sub.add_parser(name)
        p.set_defaults(fn=fn)
        for opt in ("--src-bucket", "--src-prefix", "--dst-bucket", "--dst-prefix"):
            p.add_argument(opt, required=True)
        p.add_argument("--threads", type=int, default=32)
        p.add_argument("--multipart-threshold", type=int, default=5 * 1024**3)
        if name == "copy":
            p.add_argument("--retry-mode", choices=("standard", "adaptive"), help="botocore retry mode to measure")
            p.add_argument("--keep-going", action="store_true", help="report failed objects instead of exiting 1")
    p = sub.add_parser("http")
    p.set_defaults(fn=http)
    for opt in ("--url", "--bucket", "--key"):
        p.add_argument(opt, required=True)
    p.add_argument("--size", type=int, required=True)
    p = sub.add_parser("plan")
    p.set_defaults(fn=plan)
    p.add_argument("--data", nargs="+", required=True, help="gzip CSV data files of an S3 Inventory report")
    for opt in ("--schema", "--dst-bucket", "--out"):
        p.add_argument(opt, required=True)
    p = sub.add_parser("merge")
    p.set_defaults(fn=merge)
    p.add_argument("--spool", nargs="+", required=True, help="the plan runs' --out directories")
    p = sub.add_parser("segment")
    p.set_defaults(fn=segment)
    for opt in ("--bucket", "--key", "--output-bucket", "--output-prefix", "--table", "--work"):
        p.add_argument(opt, required=True)
    p.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args(argv)
    args.fn(args)


if __name__ == "__main__":
    main()
