"""Pure logic of the bulk copy: routing, filters, manifest parsing, packing, reports."""

from __future__ import annotations

import csv
import dataclasses
import gzip
import io
import os
import pickle
import signal
import subprocess
import sys
import tracemalloc
from collections import Counter

import pytest

from mediaflow.common.parts import MAX_PARTS
from mediaflow.s3copy.engine import COPIED, FAILED, SKIPPED, CopyResult, composite_etag
from mediaflow.s3copy.inventory import (
    Rejected,
    SourceObject,
    iter_csv_manifest_rows,
    iter_inventory_rows,
    parse_s3_uri,
)
from mediaflow.s3copy.planning import (
    CopyItem,
    PlanLimits,
    Planner,
    SortedLookup,
    bin_cost,
    decode_item,
    encode_item,
    gunzip_members,
    is_up_to_date,
    merge_payloads,
    pack_from_pipe,
    read_manifest,
    spare_core,
    work_prefix,
)
from mediaflow.s3copy.report import ReportWriter
from mediaflow.s3copy.routing import ObjectFilter, Router, extension
from tests.helpers import PACKAGE_PATH

MiB = 1024 * 1024


def obj(key: str, size: int = 1, modified: float = 0.0) -> SourceObject:
    return SourceObject("src", key, None, size, "e" * 32, modified)


def test_routes_first_match_case_insensitive_with_catch_all():
    router = Router.from_conf(
        [
            {"file_types": ["MP4", ".mov"], "bucket": "video", "prefix": "v/"},
            {"file_types": ["mov", "jpg"], "bucket": "never-for-mov", "prefix": "x"},
            {"file_types": ["*"], "bucket": "rest", "prefix": ""},
        ],
        None,
        source_prefix="in/",
    )
    assert router.route("in/a/b.Mp4") == ("video", "v/a/b.Mp4")
    assert router.route("in/c.MOV") == ("video", "v/c.MOV")
    assert router.route("in/d.jpg") == ("never-for-mov", "x/d.jpg")
    assert router.route("in/noext") == ("rest", "noext")
    only_video = Router.from_conf([{"file_types": ["mp4"], "bucket": "video"}], None)
    assert only_video.route("a.txt") is None
    assert extension(".hidden") == "" and extension("dir.d/file") == "" and extension("a.tar.GZ") == "gz"


def test_destination_keys_follow_the_cli():
    assert Router.from_conf(None, "dst", "backup", "photos").route("photos/x/y.jpg") == ("dst", "backup/x/y.jpg")
    assert Router.from_conf(None, "dst", "backup/", "photos/").route("photos/y.jpg") == ("dst", "backup/y.jpg")
    assert Router.from_conf(None, "dst", "", "").route("a b/c+d.txt") == ("dst", "a b/c+d.txt")
    with pytest.raises(ValueError, match="destination_bucket or routes"):
        Router.from_conf(None, None)


def test_filters():
    f = ObjectFilter.from_conf(["MP4"], 10, 100, "2024-01-01T00:00:00Z")
    after = 1_704_067_201.0
    assert f.accepts("a.mp4", 50, after)
    assert not f.accepts("a.mov", 50, after)
    assert not f.accepts("a.mp4", 5, after)
    assert not f.accepts("a.mp4", 500, after)
    assert not f.accepts("a.mp4", 50, after - 10)
    with pytest.raises(ValueError, match="time zone"):
        ObjectFilter.from_conf(modified_after="2024-01-01T00:00:00")
    with pytest.raises(ValueError, match="swap"):
        ObjectFilter.from_conf(min_size=5, max_size=1)


def test_batch_operations_manifest_rows_are_url_decoded():
    lines = ["b,a+b%2Bc%25.txt\n", "b,%E6%97%A5/x,ver1\n", "\n"]
    assert list(iter_csv_manifest_rows(lines)) == [("b", "a b+c%.txt", None), ("b", "日/x", "ver1")]
    with pytest.raises(ValueError, match="bucket,key"):
        list(iter_csv_manifest_rows(["onlybucket\n"]))
    assert parse_s3_uri("s3://b/k/x.csv") == ("b", "k/x.csv")
    with pytest.raises(ValueError, match="s3://bucket/key"):
        parse_s3_uri("https://b/k")


def test_inventory_rows_skip_delete_markers_and_old_versions():
    data = io.BytesIO(
        gzip.compress(
            b'"b","a%20b.mp4","v2","true","false","10","2024-01-01T00:00:00.000Z","abc","GLACIER"\n'
            b'"b","a%20b.mp4","v1","false","false","9","2023-01-01T00:00:00.000Z","old","STANDARD"\n'
            b'"b","gone","v3","true","true","","","",""\n'
        )
    )
    manifest = {
        "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate, ETag, StorageClass",
        "files": [{"key": "data/1.csv.gz"}],
        "destinationBucket": "arn:aws:s3:::inv",
    }
    rows = list(iter_inventory_rows(manifest, lambda b, k: data))
    assert [(r.key, r.version_id, r.size, r.storage_class) for r in rows] == [("a b.mp4", "v2", 10, "GLACIER")]
    with pytest.raises(ValueError, match="CSV"):
        list(iter_inventory_rows({**manifest, "fileFormat": "ORC"}, lambda b, k: data))


def _plan(tmp_path, objects, limits, routes=None, **sizes):
    """Plan `objects`; returns the planner and each payload's items (from the manifest's members)."""
    router = Router.from_conf(routes, "dst")
    planner = Planner(router, ObjectFilter(), limits, tmp_path / "spool", **sizes).add_all(objects)
    planner.pack()
    for i, spread in enumerate(planner.spread):
        spread.upload_id = f"upload-{i}"
    manifest = planner.write_manifests().read_bytes()
    planner.close()
    payloads = [
        list(read_manifest(gzip.decompress(manifest[p.offset : p.offset + p.length]).splitlines()))
        for p in planner.bins()
    ]
    return planner, payloads


def test_payload_bounds_hold_and_every_object_is_planned_once(tmp_path):
    objects = [obj(f"k/{i:05d}", size=(i * 7919) % 1000 + 1) for i in range(5000)]
    limits = PlanLimits(max_payload_bytes=20_000, max_payload_objects=50, max_payloads=8)
    planner, payloads = _plan(tmp_path, objects, limits, window=300, open_bins=4)
    assert all(sum(i.size for i in p) <= 20_000 and len(p) <= 50 for p in payloads)
    keys = [item.key for p in payloads for item in p]
    assert sorted(keys) == sorted(o.key for o in objects)  # each object exactly once
    assert [(b.objects, b.bytes) for b in planner.bins()] == [(len(p), sum(i.size for i in p)) for p in payloads]
    total = sum(o.size for o in objects)
    assert planner.summary()["bytes"] == total and planner.payloads == len(payloads)
    # open payloads are closed when full, so most are nearly full even with a small window
    assert sum(sum(i.size for i in p) >= 18_000 or len(p) == 50 for p in payloads) >= 0.8 * len(payloads)


def test_memory_does_not_grow_with_the_objects(tmp_path):
    """What the planner holds is the window and the open payloads: ten times the rows, the
    same peak of traced memory (within noise)."""

    def peak(n: int) -> int:
        limits = PlanLimits(max_payload_bytes=50 * MiB, max_payload_objects=200)
        tracemalloc.start()
        planner = Planner(Router.from_conf(None, "dst"), ObjectFilter(), limits, tmp_path / str(n), window=2000)
        for i in range(n):
            planner.add(obj(f"media/p{i % 97:02d}/clip {i:07d}.mov", size=(i * 2654435761) % (8 * MiB) + 1))
        planner.write_manifests()
        planner.close()
        _, high = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert planner.objects == n
        return high

    small, large = peak(5_000), peak(50_000)
    assert large < 1.25 * small, (small, large)


def test_largest_objects_go_first_within_the_window(tmp_path):
    sizes = [1, 9, 2, 7, 3, 5, 5, 4, 3, 1]
    limits = PlanLimits(max_payload_bytes=10, max_payload_objects=3, max_payloads=100, multipart_threshold=100)
    planner, payloads = _plan(tmp_path, [obj(f"o{i}", s) for i, s in enumerate(sizes)], limits)
    loads = sorted(sum(i.size for i in p) for p in payloads)
    assert all(len(p) <= 3 for p in payloads) and max(loads) <= 10
    assert sum(loads) == sum(sizes)
    # 40 bytes need four payloads of 10; filling the least-loaded one first (to balance the
    # workers) may open one more than a tight packing would
    assert len(payloads) in (4, 5)
    where = {i.key: n for n, p in enumerate(payloads) for i in p}
    assert where["o1"] != where["o3"]  # 9 and 7 each opened a payload of their own


def test_merge_cuts_payloads_into_at_most_max_payloads_balanced_tasks(tmp_path):
    shards = []
    for s in range(3):
        objects = [obj(f"s{s}/{i:05d}", size=(i * 7919) % 1000 + 1) for i in range(1000 + 500 * s)]
        limits = PlanLimits(max_payload_bytes=10_000, max_payload_objects=40, max_payloads=7)
        planner, _ = _plan(tmp_path / str(s), objects, limits, window=128, open_bins=3)
        shards.append((f"s3://work/plan/shard-{s}.jsonl.gz", planner.summary()["cost"], list(planner.bins())))
    tasks = merge_payloads(shards, limits)
    assert len(tasks) == 7
    # every payload of every shard in exactly one task, as contiguous byte ranges
    covered = {uri: [] for uri, _, _ in shards}
    for task in tasks:
        for uri, start, end in task["segments"]:
            covered[uri].append((start, end))
    for uri, _, bins in shards:
        ranges = sorted(covered[uri])
        assert ranges[0][0] == 0 and ranges[-1][1] == bins[-1].offset + bins[-1].length
        assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:], strict=False))
    assert sum(t["objects"] for t in tasks) == 1000 + 1500 + 2000
    costs = [bin_cost(t["objects"], t["bytes"], limits) for t in tasks]
    mean = sum(costs) / len(costs)
    assert max(costs) - mean <= 1.0  # within one payload of the mean
    assert merge_payloads([("s3://w/x", 0.0, [])], limits) == []


def test_a_huge_object_is_spread_over_payloads_with_every_part_once(tmp_path):
    size = 50 * 10**12  # 50 TB: ten times S3's old 5 TiB cap
    limits = PlanLimits(max_payload_bytes=100 * 1024**3, max_payload_objects=5000, max_payloads=1024)
    planner, payloads = _plan(tmp_path, [obj("huge.mxf", size), obj("small.txt", 10)], limits)
    [spread] = planner.spread
    assert spread.parts <= MAX_PARTS
    assert spread.part_size * spread.parts >= size
    chunks = [(i.first_part, i.last_part) for p in payloads for i in p if i.is_parts]
    assert len(chunks) > 1
    assert all(sum(i.size if not i.is_parts else 0 for i in p) <= limits.max_payload_bytes for p in payloads)
    numbers = [n for first, last in sorted(chunks) for n in range(first, last + 1)]
    assert numbers == list(range(1, spread.parts + 1))
    assert {i.upload_id for p in payloads for i in p if i.is_parts} == {"upload-0"}
    assert sum(1 for p in payloads for i in p if not i.is_parts) == 1


def test_rejected_rows_are_kept_for_the_report(tmp_path):
    planner = Planner(
        Router.from_conf([{"file_types": ["mp4"], "bucket": "v"}], None), ObjectFilter(), PlanLimits(), tmp_path
    )
    planner.add(obj("a.mp4"))
    planner.add(obj("notes.txt"))
    planner.add(Rejected("src", "gone", None, "NoSuchKey", 404, "missing"))
    planner.pack()
    rejected = gzip.decompress(planner.close().read_bytes()).splitlines()
    assert planner.objects == 1 and planner.rejected == 2 and planner.rejected_failed == 1
    assert len(rejected) == 2


def test_report_scopes_and_summary():
    def r(key, status, size=5):
        return CopyResult("b", key, None, "d", key, status, "E" if status == FAILED else "", 0, "m", size)

    out = io.StringIO()
    writer = ReportWriter(scope="failed", out=out)
    writer.add_all([r("ok a", COPIED), r("bad+1", FAILED), r("same", SKIPPED)])
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows == [["b", "bad%2B1", "", "failed", "E", "", "m"]]
    summary = writer.summary(2.0)
    assert Counter({k: summary[k] for k in ("copied", "failed", "skipped")}) == Counter(copied=1, failed=1, skipped=1)
    assert summary["bytes"] == 5 and summary["throughput_bytes_per_second"] == 2.5
    with pytest.raises(ValueError, match="report_scope"):
        ReportWriter(scope="some")


def test_composite_etag_and_work_prefix():
    assert composite_etag(['"' + "0" * 32 + '"']) == "4ae71336e44bf9bf79d2752e234818a5-1"
    # S3-compatible servers may give parts ETags that are not MD5s: verify by size, do not crash
    assert composite_etag(['"' + "0" * 32 + '-1"', '"' + "1" * 32 + '"']) is None
    assert composite_etag(["not-hex-at-all-but-32-chars-long"]) is None
    assert work_prefix("reports/", "manual__2024-01-01T00:00:00+00:00") == "reports/manual__2024-01-01T00-00-00-00-00/"


@pytest.mark.parametrize("key", ["plain/key.txt", "tab\there", "new\nline", "back\\slash", "ü 日本+%20.mov", "[x]"])
def test_manifest_lines_round_trip_any_key(key):
    item = CopyItem("b", key, "v1", 12, "e" * 32, "d", "pre/" + key)
    line = encode_item(item)
    assert line.count(b"\n") == 1 and line.endswith(b"\n")
    assert decode_item(line) == item
    parts = item._replace(upload_id="u", part_size=5, first_part=1, last_part=2)
    assert decode_item(encode_item(parts)) == parts


def test_destination_listing_skips_up_to_date_objects_while_planning(tmp_path):
    dest = [
        SourceObject("dst", "copy/a.txt", None, 1, "e" * 32, 0.0),  # same: skipped
        SourceObject("dst", "copy/b.txt", None, 2, "e" * 32, 0.0),  # other size: copied
        SourceObject("dst", "copy/big.bin", None, 12 * MiB, "f" * 32 + "-3", 0.0),  # our multipart copy
        SourceObject("dst", "copy/zzz.txt", None, 1, "e" * 32, 0.0),  # no source: ignored
    ]
    limits = PlanLimits(multipart_threshold=5 * MiB)
    router = Router.from_conf(None, "dst", "copy", "src/")
    planner = Planner(router, ObjectFilter(), limits, tmp_path, dest_lookup=SortedLookup(dest))
    for key, size in (("src/a.txt", 1), ("src/b.txt", 1), ("src/big.bin", 12 * MiB), ("src/c.txt", 1)):
        planner.add(obj(key, size))
    assert (planner.objects, planner.skipped) == (2, 2)
    assert is_up_to_date(5, "x", 5, "x", 10) and not is_up_to_date(5, "x", 6, "x", 10)
    assert not is_up_to_date(12 * MiB, "a" * 32, 12 * MiB, "f" * 32 + "-2", 5 * MiB)


class _Trickle(io.BytesIO):
    """A body that hands out a few bytes a read, as a slow network does: every line, and a
    UTF-8 character, is cut somewhere."""

    def read(self, size: int = -1) -> bytes:
        return super().read(5)


@pytest.mark.parametrize("gzipped", [False, True])
def test_inventory_rows_survive_any_read_boundary(gzipped):
    text = (
        '"b","caf\u00e9%20cut.mov","11","2024-01-01T00:00:00.000Z","e1","STANDARD"\n'
        "\n"  # a blank line is no row
        '"b","windows%2Bline.mxf","12","2024-01-01T00:00:00.000Z","e2","STANDARD"\r\n'
        '"b","a ""quoted"" name","13","2024-01-01T00:00:00.000Z","e3","STANDARD"\n'
        + "".join(f'"b","bulk/{i:04d}","{i}","2024-01-01T00:00:00.000Z","e","GLACIER"\n' for i in range(300))
        + '"b","last%20line","14","2024-01-01T00:00:00.000Z","\\"e4\\"",""'  # no line end
    ).encode()
    body = _Trickle(gzip.compress(text[:100]) + gzip.compress(text[100:]) if gzipped else text)
    manifest = {
        "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, Size, LastModifiedDate, ETag, StorageClass",
        "files": [{"key": "data/1.csv.gz" if gzipped else "data/1.csv"}],
    }
    rows = list(iter_inventory_rows(manifest, lambda b, k: body))
    assert [(r.key, r.size) for r in rows[:3]] == [
        ("caf\u00e9 cut.mov", 11),
        ("windows+line.mxf", 12),
        ('a "quoted" name', 13),
    ]
    assert [r.key for r in rows[3:-1]] == [f"bulk/{i:04d}" for i in range(300)]
    assert {r.storage_class for r in rows[3:-1]} == {"GLACIER"}
    assert (rows[-1].key, rows[-1].size, rows[-1].storage_class) == ("last line", 14, "STANDARD")


def test_planned_lines_carry_any_key(tmp_path):
    """The planner writes most keys as tab-separated text and falls back to JSON for the rest;
    either way the copy task reads back the very key, and its destination key."""
    keys = [
        "plain/clip.mov",
        "tab\there.mov",
        "new\nline.mov",
        "back\\slash.mov",
        "nb\u00a0sp caf\u00e9.mov",
        "日本.mxf",
    ]
    limits = PlanLimits(max_payload_bytes=10**9, max_payload_objects=2)
    _, payloads = _plan(tmp_path, [obj(k, 3) for k in keys], limits, routes=[{"bucket": "d", "prefix": "in/"}])
    items = {i.key: i for p in payloads for i in p}
    assert set(items) == set(keys)
    assert all(i.dest_key == "in/" + k and i.dest_bucket == "d" for k, i in items.items())


def test_archived_objects_are_asked_about_and_rejected_unless_restored(tmp_path):
    asked = []

    def archived(o: SourceObject) -> SourceObject | Rejected:
        asked.append(o.key)
        if o.key == "cold/restored.mov":
            return o._replace(restored=True)
        return Rejected(o.bucket, o.key, None, "InvalidObjectState", 403, "not restored")

    rows = [obj("warm.mov"), obj("cold/restored.mov")._replace(storage_class="GLACIER")]
    rows.append(obj("cold/frozen.mov")._replace(storage_class="DEEP_ARCHIVE"))
    planner = Planner(Router.from_conf(None, "dst"), ObjectFilter(), PlanLimits(), tmp_path / "s")
    planner.add_all(rows, archived=archived)
    planner.write_manifests()
    rejected = gzip.decompress(planner.close().read_bytes()).decode()
    assert asked == ["cold/restored.mov", "cold/frozen.mov"]
    assert (planner.seen, planner.objects, planner.rejected_failed) == (3, 2, 1)
    assert "cold/frozen.mov" in rejected and "InvalidObjectState" in rejected and "warm" not in rejected


def test_a_range_of_thousands_of_payloads_reads_back_whole(tmp_path):
    """A copy task's range holds many gzip members; they are read in one pass, and a range cut
    short is refused rather than read as fewer objects."""
    objects = [obj(f"k/{i:05d}", size=1) for i in range(6000)]
    limits = PlanLimits(max_payload_bytes=10**9, max_payload_objects=2)
    planner, payloads = _plan(tmp_path, objects, limits)
    data = planner.manifest.read_bytes()
    assert planner.payloads == 3000
    lines = gunzip_members(data).splitlines()
    assert [i.key for i in read_manifest(lines)] == [i.key for p in payloads for i in p]
    assert sorted(i.key for i in read_manifest(lines)) == [o.key for o in objects]
    with pytest.raises(EOFError, match="truncated"):
        gunzip_members(data[:-3])


def test_a_truncated_inventory_data_file_is_refused():
    """The rows read before the cut are not taken for the whole file."""
    lines = "".join(f'"b","k/{i:06d}","{i}","2024-01-01T00:00:00.000Z","e","STANDARD"\n' for i in range(20_000))
    data = gzip.compress(lines.encode())
    manifest = {
        "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, Size, LastModifiedDate, ETag, StorageClass",
        "files": [{"key": "data/1.csv.gz"}],
    }
    assert len(list(iter_inventory_rows(manifest, lambda b, k: io.BytesIO(data)))) == 20_000
    with pytest.raises(EOFError, match="truncated"):
        list(iter_inventory_rows(manifest, lambda b, k: io.BytesIO(data[: len(data) // 2])))


def test_packing_in_a_second_process_writes_the_same_plan(tmp_path):
    """The planner's two modes differ in where the packing runs, not in what it writes."""
    objects = [obj(f"media/{i:05d}.mov", size=(i * 7919) % 5000 + 1) for i in range(3000)]
    objects += [obj("huge.mxf", size=60_000), Rejected("src", "bad", None, "NoSuchKey", 404, "gone")]
    limits = PlanLimits(max_payload_bytes=20_000, max_payload_objects=40, max_payloads=8, multipart_threshold=5_000)
    plans = {}
    for mode in (False, True):
        planner, payloads = _plan(
            tmp_path / str(mode), objects, limits, window=500, open_bins=6, pack_in_subprocess=mode
        )
        plans[mode] = (planner.manifest.read_bytes(), planner.bins_path.read_bytes(), planner.summary(), payloads)
    assert plans[True] == plans[False]
    manifest, _, summary, payloads = plans[True]
    assert summary["spread_objects"] == 1 and summary["rejected_failed"] == 1 and summary["payloads"] == len(payloads)
    assert sorted(i.key for p in payloads for i in p if not i.is_parts) == sorted(o.key for o in objects[:3000])
    assert (
        not list((tmp_path / "True" / "spool").glob("open-*"))
        and not (tmp_path / "True" / "spool" / "packer.log").exists()
    )


def test_plan_tasks_share_the_packing_slots_and_a_killed_one_gives_its_slot_back(tmp_path):
    """Two slots: the first two plan tasks pack in a second process, the third in its own; a
    slot is free again when its task ends, or is killed without any clean-up."""
    folder = tmp_path / "slots"
    with (
        spare_core(folder, slots=2) as first,
        spare_core(folder, slots=2) as second,
        spare_core(folder, slots=2) as third,
    ):
        assert (first, second, third) == (True, True, False)
    with spare_core(folder, slots=1) as again:
        assert again is True
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom pathlib import Path\n"
         "from mediaflow.s3copy.planning import spare_core\n"
         "with spare_core(Path(sys.argv[1]), slots=1) as held:\n"
         "    print(held, flush=True)\n    time.sleep(600)\n", str(folder)],
        stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=PACKAGE_PATH),
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "True"
        with spare_core(folder, slots=1) as taken:
            assert taken is False
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with spare_core(folder, slots=1) as freed:
        assert freed is True
    with spare_core(folder, slots=0) as none:
        assert none is False


def test_a_slot_folder_that_cannot_be_written_still_plans(tmp_path):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the slot folder would be")
    with spare_core(blocked / "slots", slots=1) as spare:
        assert spare is (len(os.sched_getaffinity(0)) > 1)  # this machine's core count decides; nothing is raised


def test_a_packing_process_that_dies_fails_the_plan_with_its_exit(tmp_path):
    planner = Planner(
        Router.from_conf(None, "dst"), ObjectFilter(), PlanLimits(), tmp_path / "s", window=10, pack_in_subprocess=True
    )
    planner.add_all(obj(f"k/{i}") for i in range(10))
    planner._packer._proc.kill()
    planner._packer._proc.wait()
    with pytest.raises(RuntimeError, match="packing process exited with -9"):
        planner.add_all(obj(f"k/{i}") for i in range(10, 30))


def test_the_packing_process_stops_when_its_planner_is_gone(tmp_path):
    """A planner killed mid-plan leaves a pipe that ends without `finish`: the packer exits
    with an error instead of writing a manifest that looks whole."""
    message = pickle.dumps(("place", [(5, "b\tk\t\t5\te\td\tk\n")]))
    pipe = io.BytesIO(len(message).to_bytes(8, "little") + message)
    config = {"limits": dataclasses.asdict(PlanLimits()), "spool_dir": str(tmp_path), "open_bins": 4}
    out = io.StringIO()
    with pytest.raises(SystemExit, match="ended before the plan was finished"):
        pack_from_pipe(config, pipe, out)
    assert out.getvalue() == ""
