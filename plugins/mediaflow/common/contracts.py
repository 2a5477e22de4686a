"""Where each DAG's public conf contract lives, and the whole-conf check every way in shares.

Every capability keeps its own `contract` module defining `PARAMS` (the JSON-schema Params
the trigger form renders) and `validate(conf)` (the rules that span keys, pure: it raises
`InputError`). DAG files build their `params=` from those modules; the API-server guard
(`conf_guard`) and each DAG's first task (`tasks.refuse_bad_conf`) call `conf_problem`, so the
UI form, REST callers, backfills and schedules all meet one contract.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from mediaflow.common.conf_check import check_values, sentence
from mediaflow.common.errors import InputError

#: DAG id -> the module holding its `PARAMS` and `validate`
CONTRACTS = {
    "s3_bulk_copy": "mediaflow.s3copy.contract",
    "frameio_backup": "mediaflow.frameio.contract",
    "frameio_backup_scheduled": "mediaflow.frameio.contract_scheduled",
    "video_segment_index": "mediaflow.video.contract",
    "mediaconvert_transcode": "mediaflow.mediaconvert.contract",
    "mediaflow_healthcheck": "mediaflow.healthcheck.contract",
}


def contract_for(dag_id: str) -> ModuleType | None:
    """The contract module of a mediaflow DAG, or None when `dag_id` is not one of ours."""
    module = CONTRACTS.get(dag_id)
    return importlib.import_module(module) if module else None


def params_for(dag_id: str) -> dict[str, Any] | None:
    """The Params of a mediaflow DAG, or None when `dag_id` is not one of ours."""
    contract = contract_for(dag_id)
    return None if contract is None else dict(contract.PARAMS)


def unknown_keys(dag_id: str, conf: Mapping[str, Any] | None) -> list[str]:
    """Conf keys that the DAG's contract does not define (empty for DAGs that are not ours)."""
    params = params_for(dag_id)
    if params is None or not conf:
        return []
    return sorted(set(conf) - set(params))


def unknown_keys_message(dag_id: str, keys: list[str]) -> str:
    allowed = ", ".join(sorted(params_for(dag_id) or {}))
    return (
        f"{dag_id}: unknown conf key(s) {', '.join(repr(k) for k in keys)}. "
        f"Remove them or fix the spelling; accepted keys are: {allowed}."
    )


def conf_problem(dag_id: str, conf: Mapping[str, Any] | None) -> str | None:
    """Why `conf` cannot start a run of `dag_id` that works, in plain sentences; None if it can.

    In order: unknown keys, then each value against its Param (with the deployment's defaults
    for keys left out), then the contract's rules across keys. DAGs that are not ours: None."""
    contract = contract_for(dag_id)
    if contract is None:
        return None
    conf = dict(conf or {})
    keys = unknown_keys(dag_id, conf)
    if keys:
        return unknown_keys_message(dag_id, keys)
    problems, effective = check_values(contract.PARAMS, conf)
    if problems:
        return sentence(dag_id, problems)
    try:
        contract.validate(effective)
    except InputError as exc:
        return sentence(dag_id, [str(exc)])
    return None
