"""`POST /frameio/custom-action`: the Frame.io Custom Action receiver on the Airflow API server.

Verifies the signature before reading anything else, answers within Frame.io's 5 s with a
message (or the optional form), and queues `frameio_backup` with a run id derived from the
interaction id. Frame.io retries a click up to five times; the same run id makes each retry
find the run already queued instead of creating another.

The run is created in-process with `airflow.api.common.trigger_dag.trigger_dag`, the function
behind the REST trigger endpoint: the API server already holds a metadata-DB session and the
serialized DAG, so there is no HTTP round trip and no API credentials to store. It validates
the conf against the DAG's Params like the REST endpoint does.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from mediaflow.common.conf import to_bool
from mediaflow.frameio import signature as sig

log = logging.getLogger(__name__)
DAG_ID = "frameio_backup"
CONN_ID = "frameio_default"


def connection_settings() -> dict[str, Any]:
    """The receiver's settings from the `frameio_default` connection extra (never from code)."""
    from airflow.models.connection import Connection

    extra = Connection.get_connection_from_secrets(CONN_ID).extra_dejson or {}
    return {
        "secret": extra.get("custom_action_secret") or "",
        "destination_bucket": extra.get("destination_bucket") or "",
        "destination_prefix": extra.get("destination_prefix") or "",
        "form": to_bool(extra.get("custom_action_form"), False),
    }


def trigger_backup(run_id: str, conf: dict[str, Any]) -> bool:
    """Queue the run; False when a run with this id already exists (a Frame.io retry)."""
    from airflow.api.common.trigger_dag import trigger_dag
    from airflow.exceptions import DagRunAlreadyExists
    from airflow.utils.types import DagRunTriggeredByType
    from sqlalchemy.exc import IntegrityError

    try:
        trigger_dag(
            DAG_ID,
            run_id=run_id,
            conf=conf,
            triggered_by=DagRunTriggeredByType.REST_API,
            triggering_user_name="frameio-custom-action",
        )
    except (DagRunAlreadyExists, IntegrityError):  # IntegrityError: two retries racing
        return False
    return True


def _message(title: str, description: str, status: int = 200) -> JSONResponse:
    return JSONResponse({"title": title, "description": description}, status_code=status)


def create_app(
    *,
    settings: Callable[[], dict[str, Any]] = connection_settings,
    trigger: Callable[[str, dict[str, Any]], bool] = trigger_backup,
    clock: Callable[[], float] | None = None,
) -> FastAPI:
    app = FastAPI(title="mediaflow Frame.io Custom Actions", docs_url=None, redoc_url=None, openapi_url=None)

    @app.post("/custom-action")
    async def custom_action(request: Request) -> JSONResponse:
        body = await request.body()
        config = await run_in_threadpool(settings)  # a metadata-DB lookup: keep it off the event loop
        reason = sig.verify(
            config["secret"],
            request.headers.get("X-Frameio-Request-Timestamp"),
            request.headers.get("X-Frameio-Signature"),
            body,
            now=clock() if clock else None,
        )
        if reason:
            log.warning("Frame.io Custom Action refused: %s", reason)
            return JSONResponse({"detail": "invalid or missing Frame.io signature"}, status_code=401)
        try:
            action = sig.parse(json.loads(body))
        except (ValueError, AttributeError) as exc:
            return _message("Backup not started", f"The request could not be read: {exc}", 400)
        if config["form"] and action.data is None:
            return JSONResponse(sig.form(config["destination_prefix"]))
        if not config["destination_bucket"]:
            return _message(
                "Backup not configured",
                "Set destination_bucket in the extra of the frameio_default Airflow connection.",
            )
        try:
            conf = sig.build_conf(action, config)
        except ValueError as exc:
            return _message("Backup not started", str(exc), 400)
        run_id = sig.run_id_for(action.interaction_id)
        created = await run_in_threadpool(trigger, run_id, conf)
        where = f"s3://{conf['destination_bucket']}/{conf['destination_prefix']}".rstrip("/")
        log.info(
            "Frame.io Custom Action %s: run %s (%s)", action.interaction_id, run_id, "queued" if created else "exists"
        )
        return _message(
            "Backup queued" if created else "Backup already queued",
            f"Frame.io {action.resource_type or 'asset'} {action.resource_id} is being backed up to {where} "
            f"(Airflow run {run_id}).",
        )

    return app


app = create_app()
