"""A local MediaConvert-compatible service that really transcodes with ffmpeg.

It speaks MediaConvert's REST-JSON API (paths and lowerCamel member names from botocore's
`mediaconvert` model), so an unmodified boto3 `mediaconvert` client, aiobotocore and the AWS CLI
work against it: DescribeEndpoints, CreateJob, GetJob, ListJobs, CancelJob, the JobTemplate and the
Queue calls. Jobs run in a small worker pool: the input is read from the S3 endpoint, each output is
encoded with ffmpeg and packaged (files, HLS, DASH ISO, CMAF, frame captures) under MediaConvert's
names, and the job moves SUBMITTED -> PROGRESSING (JobPercentComplete, CurrentPhase) -> COMPLETE
(OutputGroupDetails) or ERROR (ErrorCode, ErrorMessage). A setting is honoured, ignored where its
value changes nothing, or refused: one 400 lists every field it cannot honour (mediaconvert_support).

Queues behave as MediaConvert's do where it matters to a caller: a job in a PAUSED queue stays
SUBMITTED until the queue is ACTIVE again (a job already PROGRESSING finishes), and the queue
reports its submitted and progressing jobs. A job naming a queue that was never created runs as
if that queue were active, where the real service would refuse it.

    python -m include.local_stack.mediaconvert_service --host 127.0.0.1 --port 8081 \\
        --s3-endpoint http://127.0.0.1:5000
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import string
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from include.local_stack import mediaconvert_engine as engine
from include.local_stack.mediaconvert_wire import from_wire, model, to_wire

log = logging.getLogger("mediaconvert-local")

REGION = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
ACCOUNT_ID = "123456789012"
API = "/2017-08-29"
DEFAULT_QUEUE = f"arn:aws:mediaconvert:{REGION}:{ACCOUNT_ID}:queues/Default"


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequestException", message)


class State:
    """Jobs and job templates in memory, and the pool that runs the jobs."""

    def __init__(self, s3_endpoint: str, workers: int) -> None:
        self.s3_endpoint = s3_endpoint
        self.lock = threading.Lock()
        self.jobs: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, tuple[str, str]] = {}  # token -> (request fingerprint, job id)
        self.templates: dict[str, dict[str, Any]] = {}
        self.queues: dict[str, dict[str, Any]] = {"Default": _new_queue("Default", {}, "SYSTEM")}
        self.held: dict[str, list[str]] = {}  # queue name -> jobs waiting for it to be ACTIVE, oldest first
        self.cancel_events: dict[str, threading.Event] = {}
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mc-job")

    # -- jobs ------------------------------------------------------------------------------------
    def create_job(self, request: dict[str, Any]) -> dict[str, Any]:
        validate(request, "CreateJob")
        token = request.get("ClientRequestToken")
        fingerprint = json.dumps({k: v for k, v in request.items() if k != "ClientRequestToken"}, sort_keys=True)
        with self.lock:
            if token and token in self.tokens:
                seen, job_id = self.tokens[token]
                if seen != fingerprint:
                    raise ApiError(
                        409,
                        "ConflictException",
                        f"The clientRequestToken [{token}] was already used for a different job request.",
                    )
                return self.jobs[job_id]
        settings = self._effective_settings(request)
        _check_supported(settings)
        now = time.time()
        job_id = f"{int(now * 1000)}-{''.join(random.choices(string.ascii_lowercase + string.digits, k=6))}"
        job: dict[str, Any] = {
            "Id": job_id,
            "Arn": f"arn:aws:mediaconvert:{REGION}:{ACCOUNT_ID}:jobs/{job_id}",
            "CreatedAt": now,
            "Role": request["Role"],
            "Queue": _queue_arn(request.get("Queue")),
            "Settings": settings,
            "Status": "SUBMITTED",
            "Timing": {"SubmitTime": now},
            "UserMetadata": request.get("UserMetadata", {}),
            "Priority": request.get("Priority", 0),
            "StatusUpdateInterval": request.get("StatusUpdateInterval", "SECONDS_60"),
            "RetryCount": 0,
        }
        for key in ("JobTemplate", "ClientRequestToken", "AccelerationSettings"):
            if key in request:
                job[key] = request[key]
        with self.lock:
            self.jobs[job_id] = job
            if token:
                self.tokens[token] = (fingerprint, job_id)
            self.cancel_events[job_id] = threading.Event()
            if self._hold_if_paused(job):
                return job
        self.pool.submit(self._run, job_id)
        return job

    def _hold_if_paused(self, job: dict[str, Any]) -> bool:
        """Park a job whose queue is PAUSED until the queue is ACTIVE; call with the lock held."""
        name = _queue_name(job["Queue"])
        queue = self.queues.get(name)
        if queue is None or queue["Status"] != "PAUSED":
            return False
        self.held.setdefault(name, []).append(job["Id"])
        return True

    def _effective_settings(self, request: dict[str, Any]) -> dict[str, Any]:
        """A named job template supplies the settings the request leaves out (as MediaConvert does)."""
        settings = dict(request.get("Settings") or {})
        name = request.get("JobTemplate")
        if name:
            template = self.get_template(_template_name(name))
            for key, value in template["Settings"].items():
                if key == "Inputs" and settings.get("Inputs"):
                    merged = []
                    base = (value or [{}])[0]
                    for inp in settings["Inputs"]:
                        merged.append({**base, **inp})
                    settings["Inputs"] = merged
                else:
                    settings.setdefault(key, value)
        return settings

    def _run(self, job_id: str) -> None:
        job = self.jobs[job_id]
        cancel = self.cancel_events[job_id]

        def progress(percent: int, phase: str) -> None:
            with self.lock:
                if job["Status"] == "PROGRESSING":
                    job["JobPercentComplete"] = percent
                    job["CurrentPhase"] = phase

        with self.lock:
            if job["Status"] != "SUBMITTED" or self._hold_if_paused(job):
                return  # canceled while waiting for a worker, or its queue was paused meanwhile
            job["Status"] = "PROGRESSING"
            job["Timing"]["StartTime"] = time.time()
            job["JobPercentComplete"] = 0
            job["CurrentPhase"] = "PROBING"
        try:
            started = datetime.fromtimestamp(job["Timing"]["StartTime"], UTC)
            details = engine.run_job(job["Settings"], self.s3_endpoint, progress, cancel, started)
        except engine.JobCanceled:
            return
        except engine.JobError as exc:
            with self.lock:
                job.update(Status="ERROR", ErrorCode=exc.code, ErrorMessage=exc.message)
                job["Timing"]["FinishTime"] = time.time()
                job.pop("JobPercentComplete", None)
                job.pop("CurrentPhase", None)
            log.info("job %s ERROR %s: %s", job_id, exc.code, exc.message)
            return
        except Exception as exc:  # noqa: BLE001 - a job error, not a service crash
            log.exception("job %s failed", job_id)
            with self.lock:
                job.update(Status="ERROR", ErrorCode=1999, ErrorMessage=f"Internal error: {exc}")
                job["Timing"]["FinishTime"] = time.time()
            return
        with self.lock:
            if job["Status"] != "PROGRESSING":
                return
            job.update(Status="COMPLETE", OutputGroupDetails=details)
            job["Timing"]["FinishTime"] = time.time()
            job.pop("JobPercentComplete", None)
            job.pop("CurrentPhase", None)
        log.info("job %s COMPLETE", job_id)

    def get_job(self, job_id: str) -> dict[str, Any]:
        with self.lock:
            if job_id not in self.jobs:
                raise ApiError(404, "NotFoundException", f"The specified job [{job_id}] was not found.")
            return json.loads(json.dumps(self.jobs[job_id]))

    def cancel_job(self, job_id: str) -> None:
        job = self.get_job(job_id)
        with self.lock:
            live = self.jobs[job_id]
            if job["Status"] not in ("SUBMITTED", "PROGRESSING"):
                raise bad_request(f"Job [{job_id}] cannot be canceled: its status is {job['Status']}.")
            live["Status"] = "CANCELED"
            live["Timing"]["FinishTime"] = time.time()
            live.pop("JobPercentComplete", None)
            live.pop("CurrentPhase", None)
            self.cancel_events[job_id].set()

    def list_jobs(self, query: dict[str, str]) -> dict[str, Any]:
        with self.lock:
            jobs = sorted(self.jobs.values(), key=lambda j: j["CreatedAt"], reverse=query.get("order") != "ASCENDING")
            jobs = [j for j in jobs if not query.get("status") or j["Status"] == query["status"]]
            if query.get("queue"):
                jobs = [j for j in jobs if j["Queue"] == _queue_arn(query["queue"])]
            return _page(json.loads(json.dumps(jobs)), query, "Jobs")

    # -- queues ----------------------------------------------------------------------------------
    def create_queue(self, request: dict[str, Any]) -> dict[str, Any]:
        validate(request, "CreateQueue")
        name = request["Name"]
        with self.lock:
            if name in self.queues:
                raise ApiError(409, "ConflictException", f"A queue named [{name}] already exists.")
            self.queues[name] = _new_queue(name, request, "CUSTOM")
            return self._queue_view(name)

    def get_queue(self, name: str) -> dict[str, Any]:
        with self.lock:
            self._live_queue(name)
            return self._queue_view(name)

    def update_queue(self, name: str, request: dict[str, Any]) -> dict[str, Any]:
        validate({**request, "Name": name}, "UpdateQueue")
        with self.lock:
            live = self._live_queue(name)
            for key in ("Description", "Status", "ConcurrentJobs"):
                if key in request:
                    live[key] = request[key]
            live["LastUpdated"] = time.time()
            released = self.held.pop(name, []) if live["Status"] == "ACTIVE" else []
            view = self._queue_view(name)
        for job_id in released:  # in the order they were submitted
            self.pool.submit(self._run, job_id)
        return view

    def delete_queue(self, name: str) -> None:
        with self.lock:
            queue = self._live_queue(name)
            if queue["Type"] == "SYSTEM":
                raise bad_request(f"The queue [{name}] is the account's default queue and cannot be deleted.")
            view = self._queue_view(name)
            if view["SubmittedJobsCount"] or view["ProgressingJobsCount"]:
                raise ApiError(409, "ConflictException", f"The queue [{name}] still has jobs that have not ended.")
            del self.queues[name]

    def list_queues(self, query: dict[str, str]) -> dict[str, Any]:
        with self.lock:
            by = "CreatedAt" if query.get("listBy") == "CREATION_DATE" else "Name"
            names = sorted(self.queues, key=lambda n: self.queues[n][by], reverse=query.get("order") == "DESCENDING")
            return _page([self._queue_view(n) for n in names], query, "Queues")

    def _live_queue(self, name: str) -> dict[str, Any]:
        if name not in self.queues:
            raise ApiError(404, "NotFoundException", f"The specified queue [{name}] was not found.")
        return self.queues[name]

    def _queue_view(self, name: str) -> dict[str, Any]:
        """The queue as GetQueue answers it, with its job counts; call with the lock held."""
        arn = self.queues[name]["Arn"]
        statuses = [j["Status"] for j in self.jobs.values() if j["Queue"] == arn]
        return json.loads(
            json.dumps(
                {
                    **self.queues[name],
                    "SubmittedJobsCount": statuses.count("SUBMITTED"),
                    "ProgressingJobsCount": statuses.count("PROGRESSING"),
                }
            )
        )

    # -- job templates ---------------------------------------------------------------------------
    def create_template(self, request: dict[str, Any]) -> dict[str, Any]:
        validate(request, "CreateJobTemplate")
        name = request["Name"]
        with self.lock:
            if name in self.templates:
                raise ApiError(409, "ConflictException", f"A job template named [{name}] already exists.")
        _check_supported(request["Settings"], template=True)
        now = time.time()
        template = {
            "Name": name,
            "Arn": f"arn:aws:mediaconvert:{REGION}:{ACCOUNT_ID}:jobTemplates/{name}",
            "Settings": request["Settings"],
            "Type": "CUSTOM",
            "CreatedAt": now,
            "LastUpdated": now,
            "Priority": request.get("Priority", 0),
            "StatusUpdateInterval": request.get("StatusUpdateInterval", "SECONDS_60"),
        }
        for key in ("Category", "Description", "Queue"):
            if key in request:
                template[key] = _queue_arn(request[key]) if key == "Queue" else request[key]
        with self.lock:
            self.templates[name] = template
        return template

    def update_template(self, name: str, request: dict[str, Any]) -> dict[str, Any]:
        validate({**request, "Name": name}, "UpdateJobTemplate")
        template = self.get_template(name)
        if "Settings" in request:
            _check_supported(request["Settings"], template=True)
        with self.lock:
            live = self.templates[name]
            for key in ("Settings", "Category", "Description", "Priority", "StatusUpdateInterval"):
                if key in request:
                    live[key] = request[key]
            if "Queue" in request:
                live["Queue"] = _queue_arn(request["Queue"])
            live["LastUpdated"] = time.time()
            template = json.loads(json.dumps(live))
        return template

    def get_template(self, name: str) -> dict[str, Any]:
        with self.lock:
            if name not in self.templates:
                raise ApiError(404, "NotFoundException", f"The specified job template [{name}] was not found.")
            return json.loads(json.dumps(self.templates[name]))

    def delete_template(self, name: str) -> None:
        self.get_template(name)
        with self.lock:
            del self.templates[name]

    def list_templates(self, query: dict[str, str]) -> dict[str, Any]:
        with self.lock:
            items = sorted(self.templates.values(), key=lambda t: t["Name"], reverse=query.get("order") == "DESCENDING")
            if query.get("category"):
                items = [t for t in items if t.get("Category") == query["category"]]
            return _page(json.loads(json.dumps(items)), query, "JobTemplates")


def _page(items: list[dict[str, Any]], query: dict[str, str], member: str) -> dict[str, Any]:
    start = int(query.get("nextToken") or 0)
    size = int(query.get("maxResults") or 20)
    out: dict[str, Any] = {member: items[start : start + size]}
    if start + size < len(items):
        out["NextToken"] = str(start + size)
    return out


def _queue_arn(queue: str | None) -> str:
    if not queue or queue == "Default":
        return DEFAULT_QUEUE
    if queue.startswith("arn:"):
        return queue
    return f"arn:aws:mediaconvert:{REGION}:{ACCOUNT_ID}:queues/{queue}"


def _queue_name(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def _new_queue(name: str, request: dict[str, Any], kind: str) -> dict[str, Any]:
    now = time.time()
    queue = {
        "Name": name,
        "Arn": _queue_arn(name),
        "Type": kind,
        "Status": request.get("Status", "ACTIVE"),
        "PricingPlan": request.get("PricingPlan", "ON_DEMAND"),
        "CreatedAt": now,
        "LastUpdated": now,
    }
    for key in ("Description", "ConcurrentJobs"):
        if key in request:
            queue[key] = request[key]
    return queue


def _template_name(name: str) -> str:
    return name.rsplit("/", 1)[-1] if name.startswith("arn:") else name


def _check_supported(settings: dict[str, Any], *, template: bool = False) -> None:
    try:
        engine.check_supported(settings, template=template)
    except engine.UnsupportedSetting as exc:
        raise bad_request(str(exc)) from exc


def validate(request: dict[str, Any], operation: str) -> None:
    """botocore's own parameter validation, so the local service refuses what boto3 would."""
    from botocore.validate import ParamValidator

    report = ParamValidator().validate(request, model().operation_model(operation).input_shape)
    if report.has_errors():
        raise bad_request(report.generate_report())


# -- HTTP ----------------------------------------------------------------------------------------
class Handler(BaseHTTPRequestHandler):
    server_version = "mediaflow-mediaconvert-local/1.0"
    state: State  # set on the subclass that `serve` builds

    def log_message(self, fmt: str, *args: Any) -> None:
        log.debug("%s " + fmt, self.address_string(), *args)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._dispatch("PUT")

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch("DELETE")

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return {}
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise bad_request(f"The request body is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise bad_request("The request body must be a JSON object.")
        return data

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        path = url.path.rstrip("/")
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        state = self.state
        try:
            if path == "/healthz" and method == "GET":
                self._send(200, {"status": "ok", "jobs": len(state.jobs)}, raw=True)
                return
            parts = [unquote(p) for p in path.split("/")[1:]]
            if not parts or "/" + parts[0] != API:
                raise ApiError(404, "NotFoundException", f"No route for {method} {url.path}")
            resource, ident = parts[1] if len(parts) > 1 else "", parts[2] if len(parts) > 2 else None
            self._route(method, resource, ident, query)
        except ApiError as exc:
            self._error(exc)
        except Exception as exc:  # noqa: BLE001 - answered as a 500 in MediaConvert's shape
            log.exception("unhandled error")
            self._error(ApiError(500, "InternalServerErrorException", str(exc)))

    def _route(self, method: str, resource: str, ident: str | None, query: dict[str, str]) -> None:
        state = self.state
        if resource == "endpoints" and method == "POST" and ident is None:
            host = self.headers.get("Host", "127.0.0.1")
            self._send(200, {"endpoints": [{"url": f"http://{host}"}]}, raw=True)
        elif resource == "jobs" and ident is None and method == "POST":
            job = state.create_job(from_wire(_input("CreateJob"), self._body()))
            self._send(201, {"Job": job}, "CreateJob")
        elif resource == "jobs" and ident is None and method == "GET":
            self._send(200, state.list_jobs(query), "ListJobs")
        elif resource == "jobs" and ident and method == "GET":
            self._send(200, {"Job": state.get_job(ident)}, "GetJob")
        elif resource == "jobs" and ident and method == "DELETE":
            state.cancel_job(ident)
            self._send(202, {}, raw=True)
        elif resource == "queues" and ident is None and method == "POST":
            queue = state.create_queue(from_wire(_input("CreateQueue"), self._body()))
            self._send(201, {"Queue": queue}, "CreateQueue")
        elif resource == "queues" and ident is None and method == "GET":
            self._send(200, state.list_queues(query), "ListQueues")
        elif resource == "queues" and ident and method == "GET":
            self._send(200, {"Queue": state.get_queue(ident)}, "GetQueue")
        elif resource == "queues" and ident and method == "PUT":
            queue = state.update_queue(ident, from_wire(_input("UpdateQueue"), self._body()))
            self._send(200, {"Queue": queue}, "UpdateQueue")
        elif resource == "queues" and ident and method == "DELETE":
            state.delete_queue(ident)
            self._send(202, {}, raw=True)
        elif resource == "jobTemplates" and ident is None and method == "POST":
            template = state.create_template(from_wire(_input("CreateJobTemplate"), self._body()))
            self._send(201, {"JobTemplate": template}, "CreateJobTemplate")
        elif resource == "jobTemplates" and ident is None and method == "GET":
            self._send(200, state.list_templates(query), "ListJobTemplates")
        elif resource == "jobTemplates" and ident and method == "GET":
            self._send(200, {"JobTemplate": state.get_template(ident)}, "GetJobTemplate")
        elif resource == "jobTemplates" and ident and method == "PUT":
            template = state.update_template(ident, from_wire(_input("UpdateJobTemplate"), self._body()))
            self._send(200, {"JobTemplate": template}, "UpdateJobTemplate")
        elif resource == "jobTemplates" and ident and method == "DELETE":
            state.delete_template(ident)
            self._send(202, {}, raw=True)
        else:
            raise ApiError(
                404, "NotFoundException", f"{method} /{resource} is not supported by the local MediaConvert service"
            )

    def _send(self, status: int, body: dict[str, Any], operation: str | None = None, *, raw: bool = False) -> None:
        if not raw and operation:
            body = to_wire(model().operation_model(operation).output_shape, body)
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-amzn-RequestId", f"{random.getrandbits(64):016x}")
        self.end_headers()
        self.wfile.write(payload)

    def _error(self, exc: ApiError) -> None:
        payload = json.dumps({"message": exc.message}).encode()
        self.send_response(
            exc.status, HTTPStatus(exc.status).phrase if exc.status in HTTPStatus._value2member_map_ else None
        )
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-amzn-ErrorType", f"{exc.code}:")
        self.end_headers()
        self.wfile.write(payload)


def _input(operation: str):
    return model().operation_model(operation).input_shape


def serve(host: str, port: int, s3_endpoint: str, workers: int = 2) -> ThreadingHTTPServer:
    handler = type("BoundHandler", (Handler,), {"state": State(s3_endpoint, workers)})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--s3-endpoint", required=True, help="S3 endpoint the jobs read inputs from and write to")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("MEDIAFLOW_MEDIACONVERT_WORKERS", "2")))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    server = serve(args.host, args.port, args.s3_endpoint, args.workers)
    log.info("local MediaConvert on http://%s:%d (S3 at %s)", args.host, args.port, args.s3_endpoint)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
