"""Frame.io parsing, pagination, key layout and batching (pure)."""

from __future__ import annotations

from mediaflow.frameio.api import (
    FileEntry,
    assign_keys,
    batch_label,
    batch_sizes,
    chunk,
    key_from_segments,
    parse_v2_asset,
    parse_v4_item,
    v2_next_page,
    v4_next_cursor,
)


def test_parse_v2_file_folder_and_stack():
    f = parse_v2_asset(
        {
            "id": "a1",
            "type": "file",
            "name": "x.mov",
            "filesize": "42",
            "original": "https://cdn/x",
            "checksums": {"xx_hash": "abc"},
            "upload_completed_at": "2024-01-01T00:00:00Z",
            "index": 1,
        }
    )
    assert (f.size, f.original, f.xxh64, f.uploaded, f.version) == (42, "https://cdn/x", "abc", True, 2)
    uploading = parse_v2_asset(
        {"id": "a2", "type": "file", "name": "y", "upload_completed_at": None, "checksums": None}
    )
    assert not uploading.uploaded and uploading.xxh64 is None
    stack = parse_v2_asset({"id": "s", "type": "version_stack", "name": "S", "cover_asset_id": "a1"})
    assert stack.head_id == "a1" and stack.uploaded


def test_parse_v4_file_without_original_and_status():
    f = parse_v4_item({"id": "f", "type": "file", "name": "n", "file_size": 7, "status": "uploading"})
    assert not f.uploaded and f.original is None and f.xxh64 is None
    ready = parse_v4_item(
        {"id": "f", "name": "n", "file_size": 7, "status": "transcoded", "media_links": {"original": None}}
    )
    assert ready.uploaded and ready.original is None  # watermarked: link is null
    linked = parse_v4_item({"id": "f", "status": "uploaded", "media_links": {"original": {"download_url": "u"}}})
    assert linked.original == "u"


def test_v2_pages_follow_total_pages_headers():
    assert v2_next_page({"page-number": "1", "total-pages": "3"}, 1) == 2
    assert v2_next_page({"page-number": "3", "total-pages": "3"}, 3) is None
    assert v2_next_page({}, 1) is None


def test_v4_cursor_is_taken_from_links_next_only():
    body = {"links": {"next": "/v4/accounts/a/folders/f/children?after=Y3Vy"}}
    assert v4_next_cursor(body) == "Y3Vy"
    assert v4_next_cursor({"links": {"next": None}}) is None
    assert v4_next_cursor({}) is None


def test_key_from_segments_drops_empty_segments_and_stray_slashes():
    assert key_from_segments("pre/", "", "/Dailies/Day 1/", "clip.mov") == "pre/Dailies/Day 1/clip.mov"
    assert key_from_segments("", "a.mov") == "a.mov"


def entry(asset_id: str, name: str, path: str = "Dailies", created: str = "") -> FileEntry:
    return FileEntry(asset_id, name, path, 1, None, None, created)


def test_keys_keep_path_and_disambiguate_same_names_deterministically():
    a = entry("id-b", "clip.mov", created="2024-01-01")
    b = entry("id-a", "clip.mov", created="2024-01-02")
    c = entry("id-c", "notes", created="2024-01-01")
    d = entry("id-d", "notes", created="2024-01-03")
    e = entry("id-e", "a/b.mov", path="")
    out = {x.asset_id: x.key for x in assign_keys([b, a, c, d, e], "pre/")}
    assert out == {
        "id-b": "pre/Dailies/clip.mov",  # the oldest keeps the plain name
        "id-a": "pre/Dailies/clip~id-a.mov",
        "id-c": "pre/Dailies/notes",
        "id-d": "pre/Dailies/notes~id-d",
        "id-e": "pre/a_b.mov",
    }
    # listing order does not matter
    again = {
        x.asset_id: x.key
        for x in assign_keys(
            [entry("id-a", "clip.mov", created="2024-01-02"), entry("id-b", "clip.mov", created="2024-01-01")], "pre"
        )
    }
    assert again == {"id-b": "pre/Dailies/clip.mov", "id-a": "pre/Dailies/clip~id-a.mov"}


def test_batches_stay_within_the_mapping_limit():
    assert batch_sizes([5], 1024) == 1
    assert batch_sizes([0], 1024) == 1
    for counts in ([10_000], [12_345, 3], [1024], [1025], [600, 600, 600], [1] * 50 + [40_000]):
        size = batch_sizes(counts, 1024)
        assert sum(len(chunk(list(range(n)), size)) for n in counts) <= 1024, counts
    assert chunk([1, 2, 3, 4, 5], 2) == [[1, 2], [3, 4], [5]]


def test_batch_label_names_the_file_or_the_first_of_a_batch():
    files = [FileEntry(f"a{i}", f"shot_{i}.mov", "", 1, None, None) for i in range(3)]
    assert batch_label(files[:1]) == "shot_0.mov"
    assert batch_label(files) == "shot_0.mov + 2 more"
    assert batch_label([]) == "no files"
