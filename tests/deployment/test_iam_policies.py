"""The IAM policies shipped in include/iam are valid policy documents and stay least-privilege."""

from __future__ import annotations

import json

import pytest

from tests.helpers import ROOT

POLICIES = sorted((ROOT / "include" / "iam").glob("*.json"))


def test_there_is_a_policy_per_pipeline():
    names = {p.stem for p in POLICIES}
    dags = {p.stem for p in (ROOT / "dags").glob("*.py") if not p.name.startswith("_")}
    missing = {d for d in dags if not any(n == d or n.startswith(d) for n in names)}
    assert not missing, f"DAGs without an IAM policy in include/iam: {sorted(missing)}"


@pytest.mark.parametrize("path", POLICIES, ids=lambda p: p.name)
def test_policy_is_valid_and_has_no_wildcard_actions(path):
    doc = json.loads(path.read_text())
    assert doc["Version"] == "2012-10-17"
    assert doc["Statement"], f"{path.name} has no statements"
    for stmt in doc["Statement"]:
        assert stmt["Effect"] in ("Allow", "Deny")
        actions = stmt.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        for action in actions:
            assert action != "*" and not action.endswith(":*"), f"{path.name}: wildcard action {action}"
        if "Principal" not in stmt:  # identity policies name their resources
            assert stmt.get("Resource"), f"{path.name}: statement {stmt.get('Sid')} has no Resource"
