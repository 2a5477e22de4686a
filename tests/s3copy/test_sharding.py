"""Splitting a bulk copy's source into shards, against moto server over HTTP: every object of
the source is in exactly one shard, and each listing part comes back in key order."""

from __future__ import annotations

import json
from urllib.parse import quote_plus

from mediaflow.s3copy.inventory import iter_listing, open_shard, read_csv_range
from mediaflow.s3copy.sharding import split_inventory, split_source


def _rows(s3, bucket: str, shard: dict) -> list[str]:
    rows = []
    for part in shard["parts"]:
        folder = part.get("prefix") or part.get("direct") or ""
        listed = [o.key for o in iter_listing(s3, bucket, folder, delimiter="" if "prefix" in part else "/")]
        assert listed == sorted(listed)  # a merge join with the destination needs key order
        rows += listed
    return rows


def test_csv_ranges_cut_anywhere_give_every_line_once(s3, make_bucket):
    bucket = make_bucket("csv")
    lines = [f"{bucket},{quote_plus(f'dir/key {i} ' + 'x' * (i % 13))}\r\n" for i in range(200)]
    data = "".join(lines).encode()
    s3.put_object(Bucket=bucket, Key="m.csv", Body=data)
    starts = [sum(len(line) for line in lines[:n]) for n in (1, 2, 3, 50)]
    # cuts at a line's start, just before it (between \r and \n), just after it, and anywhere
    for cuts in ([s - 1 for s in starts], starts, [s + 1 for s in starts], list(range(333, len(data), 333))):
        bounds = [0, *cuts, None]
        got = []
        for start, end in zip(bounds, bounds[1:], strict=False):
            got += read_csv_range(s3, bucket, "m.csv", start, end)
        assert got == lines, cuts


def test_a_batch_operations_csv_is_split_into_ranges_that_head_each_key_once(s3, make_bucket):
    bucket = make_bucket("csv")
    keys = [f"in/{i:03d} é+%.txt" for i in range(60)]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    body = "".join(f"{bucket},{quote_plus(k)}\n" for k in keys).encode()
    s3.put_object(Bucket=bucket, Key="m.csv", Body=body)
    uri = f"s3://{bucket}/m.csv"
    shards = split_source(s3, manifest_uri=uri, source_bucket=None, source_prefix="", max_shards=5, csv_range_bytes=100)
    assert len(shards) == 5 and [s["index"] for s in shards] == list(range(5))
    got = [row.key for shard in shards for row in open_shard(s3, uri, shard)]
    assert got == keys


def test_an_inventory_report_is_split_by_data_file():
    files = [{"key": f"data/{i}.csv.gz", "size": size} for i, size in enumerate([50, 10, 40, 30, 20])]
    assert split_inventory({"files": files}, 8) == [{"kind": "inventory", "files": [f["key"]]} for f in files]
    groups = split_inventory({"files": files}, 2)
    assert sorted(k for g in groups for k in g["files"]) == sorted(f["key"] for f in files)
    sizes = {f["key"]: f["size"] for f in files}
    assert sorted(sum(sizes[k] for k in g["files"]) for g in groups) == [70, 80]


def test_an_inventory_shard_reads_only_its_files(s3, make_bucket):
    import gzip

    bucket = make_bucket("inv")
    files = []
    for f in range(3):
        rows = "".join(f'"src","f{f}/k{i}","{i + 1}","etag{i}"\n' for i in range(4))
        s3.put_object(Bucket=bucket, Key=f"data/{f}.csv.gz", Body=gzip.compress(rows.encode()))
        files.append({"key": f"data/{f}.csv.gz", "size": 1})
    manifest = {"fileFormat": "CSV", "fileSchema": "Bucket, Key, Size, ETag", "files": files}
    s3.put_object(Bucket=bucket, Key="inv/manifest.json", Body=json.dumps(manifest).encode())
    uri = f"s3://{bucket}/inv/manifest.json"
    shards = split_source(s3, manifest_uri=uri, source_bucket=None, source_prefix="", max_shards=64)
    assert len(shards) == 3
    assert [r.key for r in open_shard(s3, uri, shards[1])] == [f"f1/k{i}" for i in range(4)]


def test_a_listing_is_split_by_prefix_and_each_key_is_in_one_shard(s3, make_bucket):
    bucket = make_bucket("list")
    keys = [f"in/{d}/{i}.bin" for d in ("a", "b", "c", "d", "e") for i in range(3)]
    keys += ["in/top.txt", "in/zz.txt", "other/x.txt", "in/a/deeper/y.bin"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"1")
    shards = split_source(s3, manifest_uri=None, source_bucket=bucket, source_prefix="in/", max_shards=3)
    assert len(shards) == 3
    got = [k for s in shards for k in _rows(s3, bucket, s)]
    assert sorted(got) == sorted(k for k in keys if k.startswith("in/"))
    # everything in one folder: the folder's own folders are the shards
    shards = split_source(s3, manifest_uri=None, source_bucket=bucket, source_prefix="", max_shards=64)
    assert sorted(k for s in shards for k in _rows(s3, bucket, s)) == sorted(keys)
    assert len(shards) == 2  # "in/" and "other/": two folders at the top, not descended
    flat = make_bucket("flat")
    for i in range(5):
        s3.put_object(Bucket=flat, Key=f"f{i}", Body=b"1")
    [shard] = split_source(s3, manifest_uri=None, source_bucket=flat, source_prefix="", max_shards=64)
    assert _rows(s3, flat, shard) == [f"f{i}" for i in range(5)]
