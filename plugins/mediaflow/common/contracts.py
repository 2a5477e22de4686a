"""Where each DAG's public conf contract lives: every capability keeps its own `contract`
module defining `PARAMS`, and this registry maps DAG ids to them.

DAG files build their `params=` from those modules, and the API-server middleware uses the
same definitions to refuse unknown conf keys before a run is created, so the UI form,
schedules and REST callers all see one contract.
"""

from __future__ import annotations

import importlib
from typing import Any

#: DAG id -> the module holding its `PARAMS`
CONTRACTS = {
    "s3_bulk_copy": "mediaflow.s3copy.contract",
    "frameio_backup": "mediaflow.frameio.contract",
    "frameio_backup_scheduled": "mediaflow.frameio.contract_scheduled",
    "video_segment_index": "mediaflow.video.contract",
    "mediaconvert_transcode": "mediaflow.mediaconvert.contract",
    "mediaflow_healthcheck": "mediaflow.healthcheck.contract",
}


def params_for(dag_id: str) -> dict[str, Any] | None:
    """The Params of a mediaflow DAG, or None when `dag_id` is not one of ours."""
    module = CONTRACTS.get(dag_id)
    if module is None:
        return None
    return dict(importlib.import_module(module).PARAMS)


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
