"""V4 webhook events and prefixes, pure: which events start a backup, their key, batch targets."""

from __future__ import annotations

import pytest

from mediaflow.frameio.api import normalize_prefix
from mediaflow.frameio.events import EventIgnored, event_extra, parse_event, target_for, targets_from_extras


def body(file_id="f1", kind="file.upload.completed", account="a1", resource_type="file"):
    return {
        "account": {"id": account},
        "project": {"id": "p1"},
        "resource": {"id": file_id, "type": resource_type},
        "type": kind,
        "user": {"id": "u1"},
        "workspace": {"id": "w1"},
    }


def test_a_completed_upload_and_its_ready_event_share_one_key():
    done, ready = parse_event(body()), parse_event(body(kind="file.ready"))
    assert done.key == ready.key == "frameio-upload:a1:f1"
    assert (done.project_id, done.workspace_id, done.user_id) == ("p1", "w1", "u1")
    assert parse_event(body(account="a2")).key != done.key


@pytest.mark.parametrize(
    ("payload", "handled", "reason"),
    [
        (body(kind="file.created"), None, "does not start a backup"),
        (body(kind="file.versioned"), None, "does not start a backup"),
        (body(resource_type="folder"), None, "not a file"),
        ({**body(), "account": None}, None, "no account"),
        (body(file_id="x" * 129), None, "not a Frame.io file id"),
        (body(kind="file.ready"), ["file.upload.completed"], "does not start a backup"),
        ("text", None, "not a JSON object"),
    ],
)
def test_other_events_are_ignored_with_a_reason(payload, handled, reason):
    with pytest.raises(EventIgnored, match=reason):
        parse_event(payload, handled) if handled else parse_event(payload)


def test_versioned_files_start_a_backup_when_subscribed():
    assert parse_event(body(kind="file.versioned"), ["file.versioned"]).file_id == "f1"


def test_a_batch_of_events_is_one_target_per_file_in_arrival_order():
    settings = {"destination_bucket": "b", "upload_destination_prefix": "/uploads/../x/"}
    extras = [
        event_extra(parse_event(body(file_id=f)), target_for(parse_event(body(file_id=f)), settings))
        for f in ("f1", "f2", "f1", "f3")
    ]
    extras.insert(1, {"unrelated": True})
    targets = targets_from_extras(extras)
    assert [t["asset_id"] for t in targets] == ["f1", "f2", "f3"]
    assert {t["destination_prefix"] for t in targets} == {"uploads/x"}
    assert all(t["keep_path"] and t["asset_type"] == "file" and t["api_version"] == "v4" for t in targets)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("../../etc", "etc"),
        ("/abs/path/", "abs/path"),
        ("a//b/./c", "a/b/c"),
        ("a\\..\\b", "a/b"),
        ("2024", "2024"),
        ("", ""),
        ("..", ""),
        ("client x/day 1", "client x/day 1"),
    ],
)
def test_prefixes_never_climb_or_start_at_the_root(raw, expected):
    assert normalize_prefix(raw) == expected
