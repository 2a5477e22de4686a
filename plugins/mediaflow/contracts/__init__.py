"""The public conf contract of each DAG: one module per DAG id, each defining `PARAMS`.

DAG files build their `params=` from here, and the API-server middleware uses the same
definitions to refuse unknown conf keys before a run is created, so the UI form, schedules
and REST callers all see one contract.
"""

from __future__ import annotations

import importlib
from typing import Any


def params_for(dag_id: str) -> dict[str, Any] | None:
    """The Params of a mediaflow DAG, or None when `dag_id` is not one of ours."""
    try:
        module = importlib.import_module(f"mediaflow.contracts.{dag_id}")
    except ModuleNotFoundError as exc:
        if exc.name == f"mediaflow.contracts.{dag_id}":
            return None
        raise
    return dict(module.PARAMS)


def unknown_keys(dag_id: str, conf: dict[str, Any] | None) -> list[str]:
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
