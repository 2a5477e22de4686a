"""The Frame.io receivers on the Airflow API server (mounted under `/frameio`):

- `POST /frameio/custom-action`: a Frame.io Action (V4) or Custom Action (v2) click. Verifies the
  signature before reading anything else, answers within Frame.io's time limit with a message
  (or the optional form) and queues one `frameio_backup` run per interaction: the run id derives
  from the interaction id, so Frame.io's retries of a click find the run already queued.
- `POST /frameio/webhook`: V4 webhook events. A completed upload becomes an Airflow asset event
  on `frameio_uploads`, on which `frameio_backup` is scheduled (see `sources.py`); an event for a
  file already recorded (a retry, a replay, `file.ready` after `file.upload.completed`) adds
  nothing.

A correctly signed request never gets a 5xx: content that cannot start a backup gets a 200 with
a Frame.io message `{title, description}` saying what is wrong (webhooks: `{status, reason}`),
and no run. Every conf is checked as a whole (`contracts.conf_problem`, the same check as the
REST API, the form and backfills) before a run or an event exists.

Runs and events are created in-process with the functions behind the REST endpoints
(`trigger_dag`, `AssetManager.register_asset_change`): the API server already holds a
metadata-DB session, so there is no HTTP round trip and no API credentials to store.
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
from mediaflow.common.contracts import conf_problem
from mediaflow.common.errors import InputError
from mediaflow.frameio import events as ev
from mediaflow.frameio import signature as sig

log = logging.getLogger(__name__)
DAG_ID = "frameio_backup"
CONN_ID = "frameio_default"
#: the largest body read; an Action with 100 resources and its answers is a few KiB
MAX_BODY_BYTES = 256 * 1024
#: connection extra key -> the settings key holding that secret
SECRET_SETTINGS = {"custom_action_secret": "secret", "webhook_secret": "webhook_secret"}
#: how far back a recorded upload event makes a new one for the same file a duplicate
DEDUPE_DAYS = 30


def connection_settings() -> dict[str, Any]:
    """The receivers' settings from the `frameio_default` connection extra (never from code)."""
    from airflow.models.connection import Connection

    extra = Connection.get_connection_from_secrets(CONN_ID).extra_dejson or {}
    events = extra.get("webhook_events") or list(ev.DEFAULT_UPLOAD_EVENTS)
    return {
        "secret": extra.get("custom_action_secret") or "",
        "webhook_secret": extra.get("webhook_secret") or "",
        "destination_bucket": extra.get("destination_bucket") or "",
        "destination_buckets": extra.get("destination_buckets") or [],
        "destination_prefix": extra.get("destination_prefix") or "",
        "upload_destination_bucket": extra.get("upload_destination_bucket") or "",
        "upload_destination_prefix": extra.get("upload_destination_prefix") or "",
        "webhook_events": [e for e in events if e in ev.UPLOAD_EVENTS],
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


def record_upload(extra: dict[str, Any]) -> bool:
    """Record an asset event on `frameio_uploads` unless one with the same `event_key` exists;
    False for a duplicate. The asset's row is locked meanwhile, so two deliveries of one event
    racing each other record it once (PostgreSQL; SQLite serializes writers anyway)."""
    from datetime import timedelta

    from airflow.assets.manager import asset_manager
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils import timezone
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from mediaflow.frameio.sources import FRAMEIO_UPLOADS

    with create_session() as session:
        asset = session.scalar(
            select(AssetModel)
            .where(AssetModel.name == FRAMEIO_UPLOADS.name, AssetModel.uri == FRAMEIO_UPLOADS.uri)
            .with_for_update()
            .limit(1)
        )
        if asset is None:
            raise RuntimeError("the frameio_uploads asset is not registered yet: is the frameio_backup DAG deployed?")
        since = timezone.utcnow() - timedelta(days=DEDUPE_DAYS)
        recorded = session.scalars(
            select(AssetEvent.extra).where(AssetEvent.asset_id == asset.id, AssetEvent.timestamp >= since)
        )
        if any((extra_ or {}).get("event_key") == extra["event_key"] for extra_ in recorded):
            return False
        asset_manager.register_asset_change(asset=asset, extra=extra, source_is_api=True, session=session)
        _requeue(session, asset.id)
    return True


def _requeue(session: Any, asset_id: int) -> None:
    """Move the DAG's queued-run marker for this asset to now, so the next run takes this event.

    Why: Airflow queues a run per (asset, DAG) row, inserting it only when absent, and the run it
    creates takes the events up to that row's time. An event recorded while a row is already
    queued would miss that run and wait for the next upload; moving the row's time forward (or
    inserting it again if the scheduler just took it) makes every recorded event part of a run.
    Nothing is queued for a paused DAG, as Airflow does."""
    from airflow.models.asset import AssetDagRunQueue
    from airflow.models.dag import DagModel
    from airflow.utils import timezone
    from sqlalchemy import select

    if session.scalar(select(DagModel.is_paused).where(DagModel.dag_id == DAG_ID)) is not False:
        return
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # MySQL: Airflow's own queueing is enough there, bar this race
        return
    stmt = insert(AssetDagRunQueue).values(asset_id=asset_id, target_dag_id=DAG_ID, created_at=timezone.utcnow())
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["asset_id", "target_dag_id"], set_={"created_at": stmt.excluded.created_at}
        )
    )


_NOT_JSON = object()


def _json(body: bytes) -> Any:
    """The parsed body, or `_NOT_JSON` (JSON `null` is a value, so None cannot say it)."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return _NOT_JSON


def _message(title: str, description: str, status: int = 200) -> JSONResponse:
    return JSONResponse({"title": title, "description": description}, status_code=status)


def _not_started(reason: str) -> JSONResponse:
    return _message("Backup not started", reason)


async def _read_body(request: Request) -> bytes | None:
    """The body, or None when it is over `MAX_BODY_BYTES` (then it is not read further)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            return None
    return bytes(body)


def create_app(
    *,
    settings: Callable[[], dict[str, Any]] = connection_settings,
    trigger: Callable[[str, dict[str, Any]], bool] = trigger_backup,
    record: Callable[[dict[str, Any]], bool] = record_upload,
    check: Callable[[str, dict[str, Any]], str | None] = conf_problem,
    clock: Callable[[], float] | None = None,
) -> FastAPI:
    app = FastAPI(title="mediaflow Frame.io receivers", docs_url=None, redoc_url=None, openapi_url=None)

    async def authentic(request: Request, setting: str) -> tuple[bytes, dict[str, Any]] | JSONResponse:
        """The body and the settings when the request is signed with the secret in `setting`."""
        body = await _read_body(request)
        if body is None:
            return JSONResponse({"detail": f"request body over {MAX_BODY_BYTES} bytes"}, status_code=413)
        config = await run_in_threadpool(settings)  # a metadata-DB lookup: keep it off the event loop
        reason = sig.verify(
            config[SECRET_SETTINGS[setting]],
            request.headers.get("X-Frameio-Request-Timestamp"),
            request.headers.get("X-Frameio-Signature"),
            body,
            now=clock() if clock else None,
            setting=setting,
        )
        if reason:
            log.warning("Frame.io %s refused: %s", request.url.path, reason)
            return JSONResponse({"detail": "invalid or missing Frame.io signature"}, status_code=401)
        return body, config

    async def receive(request: Request, setting: str, handle: Callable, failure: JSONResponse) -> JSONResponse:
        """Check the signature, then handle; an error after that is `failure`, never a 5xx
        (Frame.io would retry it and show the user nothing)."""
        checked = await authentic(request, setting)
        if isinstance(checked, JSONResponse):
            return checked
        body, config = checked
        try:
            return await handle(request, body, config)
        except Exception:
            log.exception("Frame.io %s could not be handled", request.url.path)
            return failure

    @app.post("/custom-action")
    async def custom_action(request: Request) -> JSONResponse:
        failure = _not_started("The backup could not be queued because of an error in Airflow; try again shortly.")
        return await receive(request, "custom_action_secret", _action, failure)

    async def _action(request: Request, body: bytes, config: dict[str, Any]) -> JSONResponse:
        payload = _json(body)
        if payload is _NOT_JSON:
            return _not_started("The request body is not valid JSON.")
        try:
            action = sig.parse(payload)
        except InputError as exc:
            return _not_started(str(exc))
        if config["form"] and action.data is None:
            runs = str(request.base_url).rstrip("/").removesuffix("/frameio") + f"/dags/{DAG_ID}/runs"
            return JSONResponse(sig.form(config, runs))
        if not config["destination_bucket"]:
            return _message(
                "Backup not configured",
                "Set destination_bucket in the extra of the frameio_default Airflow connection.",
            )
        try:
            conf = sig.build_conf(action, config)
        except InputError as exc:
            return _not_started(str(exc))
        problem = await run_in_threadpool(check, DAG_ID, conf)
        if problem:
            return _not_started(problem)
        run_id = sig.run_id_for(action.interaction_id)
        created = await run_in_threadpool(trigger, run_id, conf)
        where = f"s3://{conf['destination_bucket']}/{conf['destination_prefix']}".rstrip("/")
        log.info("Frame.io Action %s: run %s (%s)", action.interaction_id, run_id, "queued" if created else "exists")
        what = (
            f"{len(action.resources)} Frame.io assets"
            if len(action.resources) > 1
            else f"Frame.io {action.resource_type or 'asset'} {action.resource_id}"
        )
        return _message(
            "Backup queued" if created else "Backup already queued",
            f"{what} {'are' if len(action.resources) > 1 else 'is'} being backed up to {where} (Airflow run {run_id}).",
        )

    @app.post("/webhook")
    async def webhook(request: Request) -> JSONResponse:
        failure = JSONResponse({"status": "error", "reason": "the event could not be recorded; see the API server log"})
        return await receive(request, "webhook_secret", _upload, failure)

    async def _upload(request: Request, body: bytes, config: dict[str, Any]) -> JSONResponse:
        payload = _json(body)
        if payload is _NOT_JSON:
            return JSONResponse({"status": "ignored", "reason": "the body is not valid JSON"})
        try:
            event = ev.parse_event(payload, config["webhook_events"])
        except InputError as exc:
            return JSONResponse({"status": "ignored", "reason": str(exc)})
        target = ev.target_for(event, config)
        problem = await run_in_threadpool(check, DAG_ID, target)
        if problem:
            log.warning("Frame.io upload of %s not backed up: %s", event.file_id, problem)
            return JSONResponse({"status": "refused", "reason": problem})
        recorded = await run_in_threadpool(record, ev.event_extra(event, target))
        log.info("Frame.io %s for file %s: %s", event.type, event.file_id, "recorded" if recorded else "duplicate")
        return JSONResponse({"status": "queued" if recorded else "duplicate", "file_id": event.file_id})

    return app


app = create_app()
