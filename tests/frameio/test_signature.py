"""Custom Action signing, payload parsing and run ids (pure)."""

from __future__ import annotations

import hashlib
import hmac

from mediaflow.frameio.signature import build_conf, parse, run_id_for, sign, verify

BODY = b'{"interaction_id":"abc","resource":{"id":"r1","type":"file"}}'


def test_sign_matches_an_independent_hmac():
    expected = hmac.new(b"s3cret", b"v0:1700000000:" + BODY, hashlib.sha256).hexdigest()
    assert sign("s3cret", 1700000000, BODY) == "v0=" + expected


def test_verify_vectors():
    ts = "1700000000"
    good = sign("s3cret", ts, BODY)
    now = 1700000000.0
    assert verify("s3cret", ts, good, BODY, now=now) is None
    assert verify("other", ts, good, BODY, now=now) == "signature does not match"
    assert verify("s3cret", ts, good, BODY[:-1] + b"]", now=now) == "signature does not match"
    assert "too old" in verify("s3cret", ts, good, BODY, now=now + 301)
    assert "future" in verify("s3cret", ts, good, BODY, now=now - 301)
    assert verify("s3cret", ts, good, BODY, now=now + 299) is None
    assert verify("s3cret", None, good, BODY, now=now).startswith("missing")
    assert verify("s3cret", ts, None, BODY, now=now).startswith("missing")
    assert verify("s3cret", "yesterday", good, BODY, now=now) == "timestamp is not epoch seconds"
    assert verify("", ts, good, BODY, now=now).startswith("no custom_action_secret")


def test_parse_v2_and_v4():
    v2 = parse({"interaction_id": "i", "resource": {"id": "a", "type": "asset"}, "team": {"id": "t"}})
    assert (v2.api_version, v2.resource_type, v2.account_id) == ("v2", None, None)
    v4 = parse(
        {
            "interaction_id": "i",
            "resource": {"id": "f", "type": "folder"},
            "account_id": "acc",
            "workspace": {"id": "w"},
            "data": {"include_versions": True},
        }
    )
    assert (v4.api_version, v4.resource_type, v4.account_id) == ("v4", "folder", "acc")
    conf = build_conf(v4, {"destination_bucket": "b", "destination_prefix": "p/"})
    assert conf["include_versions"] is True
    assert conf["destination_prefix"] == "p"


def test_run_id_is_stable_and_allowed():
    import re

    assert run_id_for("9f1c-22") == run_id_for("9f1c-22") == "frameio_custom_action__9f1c-22"
    odd = run_id_for("a b/c" * 100)
    assert re.fullmatch(r"[A-Za-z0-9_.~:+-]+", odd)
    assert len(odd) < 250
    assert run_id_for("a b") != run_id_for("a_b")


def test_parse_v4_action_with_resources_and_answers():
    from mediaflow.frameio.signature import ActionRefused

    action = parse(
        {
            "account_id": "acc",
            "action_id": "act",
            "interaction_id": "i",
            "project": {"id": "p"},
            "resources": [{"id": "f1", "type": "file"}, {"id": "s1", "type": "version_stack"}],
            "type": "x.backup",
            "user": {"id": "u"},
            "workspace": {"id": "w"},
        }
    )
    assert [(r.id, r.type) for r in action.resources] == [("f1", "file"), ("s1", "version_stack")]
    assert (action.project_id, action.workspace_id, action.user_id, action.event) == ("p", "w", "u", "x.backup")
    conf = build_conf(action, {"destination_bucket": "b"})
    assert conf["assets"] == [{"asset_id": "s1", "asset_type": "version_stack"}]
    import pytest

    for bad in ({"interaction_id": "i"}, {"interaction_id": "", "resource": {"id": "f", "type": "file"}}):
        with pytest.raises(ActionRefused):
            parse(bad)
    with pytest.raises(ActionRefused, match="only be backed up through Frame.io V4"):
        parse({"interaction_id": "i", "resource": {"id": "p", "type": "project"}, "team": {"id": "t"}})
