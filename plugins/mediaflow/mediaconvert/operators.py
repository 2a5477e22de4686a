"""Submit MediaConvert jobs from editable templates and wait for them without holding a worker."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.sdk import BaseOperator, Variable
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException

from mediaflow.common.s3 import parse_s3_uri
from mediaflow.common.tasks import check_fanout, fail_fast
from mediaflow.common.upload_events import uploaded_objects
from mediaflow.mediaconvert.hook import MediaConvertHook
from mediaflow.mediaconvert.jobs import (
    DEFAULT_TEMPLATE,
    TERMINAL_STATUSES,
    JobSettingsError,
    SourceInfo,
    build_request,
    client_request_token,
    default_destination,
    load_template,
    output_keys,
    validate_request,
)
from mediaflow.mediaconvert.links import MediaConvertJobLink
from mediaflow.mediaconvert.trigger import MediaConvertJobTrigger

#: where an event-triggered run (no conf) finds its role and output bucket
ROLE_VARIABLE = "mediaflow_mediaconvert_role_arn"
ROLE_CONN_EXTRA = "mediaconvert_role_arn"
RENDITIONS_BUCKET_VARIABLE = "mediaflow_renditions_bucket"
DEFAULT_RENDITIONS_BUCKET = "mediaflow-renditions"
#: accepted by the local MediaConvert service only; not a secret and not a real role
LOCAL_ROLE_ARN = "arn:aws:iam::123456789012:role/mediaflow-local-mediaconvert"


def probe_source(bucket: str, key: str, aws_conn_id: str | None) -> SourceInfo | None:
    """Width, height and audio of the input, or None when it cannot be judged here.

    Refuses (an `InputError`, so the task fails at its first try and no job is submitted) an
    input the local probe proves unusable: an empty object, a video cut short (its frames stop
    before the end its container declares), or bytes that are no media at all under a video
    file name. Anything else is best effort on purpose: MediaConvert reads inputs ffprobe may not
    (an IMF CPL is XML), and a worker without ffprobe or a failed read proves nothing, so those
    inputs are still submitted (unfitted) and MediaConvert's own error is what the task reports."""
    from mediaflow.video.hook import FfmpegHook
    from mediaflow.video.probe import EmptyMediaError, IncompleteMediaError, NotMediaError, require_bytes
    from mediaflow.video.segmenting import VIDEO_SUFFIXES

    label = f"s3://{bucket}/{key}"
    hook = FfmpegHook(aws_conn_id=aws_conn_id)
    try:
        head = S3Hook(aws_conn_id=aws_conn_id).head_object(key, bucket) or {}
        require_bytes(int(head.get("ContentLength", -1)), label)
        url = hook.presigned_url(bucket, key)
        info = hook.probe(url, label=label)
        if info.has_video:
            hook.check_complete(url, info, label=label, size=head.get("ContentLength"))
    except (EmptyMediaError, IncompleteMediaError):
        raise
    except NotMediaError:
        if key.lower().endswith(VIDEO_SUFFIXES):
            raise
        return None
    except Exception:  # noqa: BLE001 - see docstring
        return None
    if not info.has_video or not info.width or not info.height:
        return None
    return SourceInfo(width=info.width, height=info.height, has_audio=bool(info.audio), duration=info.duration)


def completed_outputs(job: dict[str, Any], aws_conn_id: str | None) -> dict[str, Any]:
    """The descriptor of a finished job: its outputs, checked in S3. Fails on ERROR/CANCELED with
    MediaConvert's code and message, or when an output MediaConvert should have written is missing."""
    status = job.get("Status")
    if status != "COMPLETE":
        code, message = job.get("ErrorCode"), job.get("ErrorMessage")
        detail = f"error {code}: {message}" if code or message else "no error message"
        raise AirflowFailException(f"MediaConvert job {job.get('Id')} ended {status}: {detail}")
    uris = output_keys(job.get("Settings") or {})
    s3 = S3Hook(aws_conn_id=aws_conn_id)
    missing = [uri for uri in uris if not s3.check_for_key(parse_s3_uri(uri)[1], parse_s3_uri(uri)[0])]
    if missing:
        raise AirflowException(
            f"MediaConvert job {job.get('Id')} is COMPLETE but these outputs are not in S3: {', '.join(missing)}. "
            "Check the destination bucket's lifecycle rules and the role's s3:PutObject permission."
        )
    return {"job_id": job.get("Id"), "status": status, "outputs": uris}


class MediaConvertCreateJobOperator(BaseOperator):
    """Submit one MediaConvert job for `s3://bucket/key` and (by default) defer until it ends.

    The job comes from a bundled JSON template (`template`, see `include/mediaconvert/`) or
    from a MediaConvert job template (`job_template_name`). The input is probed first so that
    renditions taller than the source and audio outputs for a silent input are left out, and
    the request is checked against botocore's model before anything is sent. A retried task
    sends the same ClientRequestToken, so MediaConvert answers with the job it already has.
    Returns `{"job_id", "status", "outputs": [s3 URIs]}`.
    """

    template_fields: Sequence[str] = (
        "bucket",
        "key",
        "destination",
        "role_arn",
        "template",
        "job_template_name",
        "mediaconvert_queue",
    )
    operator_extra_links = (MediaConvertJobLink(),)
    ui_color = "#f7c59f"

    def __init__(
        self,
        *,
        bucket: str,
        key: str,
        destination: str | None = None,
        role_arn: str | None = None,
        template: str | None = DEFAULT_TEMPLATE,
        job_template_name: str | None = None,
        mediaconvert_queue: str | None = None,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        probe_input: bool = True,
        wait_for_completion: bool = True,
        deferrable: bool = True,
        poll_interval: float = 10.0,
        max_poll_interval: float = 60.0,
        job_timeout: timedelta = timedelta(hours=48),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.bucket = bucket
        self.key = key
        self.destination = destination
        self.role_arn = role_arn
        self.template = template
        self.job_template_name = job_template_name
        self.mediaconvert_queue = mediaconvert_queue
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.probe_input = probe_input
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        self.job_timeout = job_timeout

    @property
    def hook(self) -> MediaConvertHook:
        return MediaConvertHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name)

    @fail_fast()
    def execute(self, context: Any) -> dict[str, Any] | None:
        if not self.bucket or not self.key:
            raise AirflowFailException("MediaConvert: give the input as bucket and key (conf `bucket`, `key`).")
        input_uri = f"s3://{self.bucket}/{self.key}"
        head = S3Hook(aws_conn_id=self.aws_conn_id).head_object(self.key, self.bucket)
        if head is None:
            raise AirflowFailException(
                f"{input_uri} does not exist: check `bucket` and `key` (keys are case-sensitive)."
            )
        hook = self.hook
        destination = self.destination or default_destination(self._renditions_bucket(), self.key)
        source = probe_source(self.bucket, self.key, self.aws_conn_id) if self.probe_input else None
        if source is None and self.probe_input:
            self.log.warning("could not probe %s; submitting the template without fitting it to the source", input_uri)
        ti = context["ti"]
        token = client_request_token(
            ti.dag_id, ti.run_id, ti.task_id, getattr(ti, "map_index", -1), input_uri, head.get("ETag"),
            self.job_template_name or self.template, destination,
        )  # fmt: skip
        try:
            template = None if self.job_template_name else load_template(self.template or DEFAULT_TEMPLATE)
            request = build_request(
                template,
                input_uri=input_uri,
                destination=destination,
                role_arn=self._role_arn(hook),
                queue=self.mediaconvert_queue,
                job_template_name=self.job_template_name,
                source=source,
                user_metadata={"dag_id": ti.dag_id, "run_id": ti.run_id, "task_id": ti.task_id},
                client_request_token=token,
            )
            validate_request(request)
        except JobSettingsError as exc:
            raise AirflowFailException(f"{input_uri}: {exc}") from exc
        job = hook.create_job(request)
        self.log.info(
            "MediaConvert job %s for %s is %s (outputs under %s)", job["Id"], input_uri, job["Status"], destination
        )
        MediaConvertJobLink.persist(
            context=context,
            operator=self,
            region_name=hook.conn_region_name,
            aws_partition=hook.conn_partition,
            job_id=job["Id"],
        )
        if not self.wait_for_completion:
            return {"job_id": job["Id"], "status": job["Status"], "outputs": output_keys(job.get("Settings") or {})}
        if job["Status"] in TERMINAL_STATUSES:
            return completed_outputs(job, self.aws_conn_id)
        if self.deferrable:
            self.defer(
                trigger=MediaConvertJobTrigger(
                    job["Id"],
                    aws_conn_id=self.aws_conn_id,
                    region_name=self.region_name,
                    poll_interval=self.poll_interval,
                    max_poll_interval=self.max_poll_interval,
                ),
                method_name="execute_complete",
                timeout=self.job_timeout,
            )
        return completed_outputs(self._wait(hook, job["Id"]), self.aws_conn_id)

    def execute_complete(self, context: Any, event: dict[str, Any]) -> dict[str, Any]:
        if event.get("status") != "success":
            raise AirflowException(f"waiting for MediaConvert job {event.get('job_id')} failed: {event.get('message')}")
        return completed_outputs(self.hook.get_job(event["job_id"]), self.aws_conn_id)

    def on_kill(self) -> None:
        self.log.info("task killed; the MediaConvert job keeps running (cancel it in the console if needed)")

    def _wait(self, hook: MediaConvertHook, job_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.job_timeout.total_seconds()
        interval = self.poll_interval
        while True:
            job = hook.get_job(job_id)
            if job["Status"] in TERMINAL_STATUSES:
                return job
            if time.monotonic() > deadline:
                raise AirflowException(f"MediaConvert job {job_id} still {job['Status']} after {self.job_timeout}")
            time.sleep(interval)
            interval = min(self.max_poll_interval, interval * 1.5)

    def _role_arn(self, hook: MediaConvertHook) -> str:
        """The role MediaConvert assumes: conf, then Variable, then the connection extra, then
        (on the local stack only) a placeholder the local service accepts."""
        if self.role_arn:
            return self.role_arn
        role = Variable.get(ROLE_VARIABLE, default=None) or hook.conn_config.extra_config.get(ROLE_CONN_EXTRA)
        if role:
            return role
        endpoint = hook.conn_config.get_service_endpoint_url("mediaconvert") or ""
        if urlsplit(endpoint).hostname in ("127.0.0.1", "localhost"):
            return LOCAL_ROLE_ARN
        raise AirflowFailException(
            f"No MediaConvert role: pass `role_arn`, or set the Airflow Variable {ROLE_VARIABLE!r}, or the "
            f"{ROLE_CONN_EXTRA!r} extra of connection {self.aws_conn_id!r} (see include/iam/mediaconvert_service_role.json)."
        )

    @staticmethod
    def _renditions_bucket() -> str:
        return Variable.get(RENDITIONS_BUCKET_VARIABLE, default=None) or DEFAULT_RENDITIONS_BUCKET


class TranscodeInputsOperator(BaseOperator):
    """The objects one run transcodes: the conf's `bucket`/`key`, or, in a run started by the
    upload asset, every object created according to the triggering events (keys decoded,
    `s3:TestEvent` ignored). Returns `[{"bucket", "key"}]` for the mapped transcode task."""

    template_fields: Sequence[str] = ("bucket", "key")

    def __init__(self, *, bucket: str | None = None, key: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bucket = bucket
        self.key = key

    @fail_fast()
    def execute(self, context: Any) -> list[dict[str, str]]:
        if self.bucket and self.key:
            return [{"bucket": self.bucket, "key": self.key}]
        if self.bucket or self.key:
            raise AirflowFailException(
                "give both `bucket` and `key` in the conf (or neither in an event-triggered run)"
            )
        objects = uploaded_objects(context)
        if objects is None:
            raise AirflowFailException(
                "no input: trigger with conf {'bucket': ..., 'key': ...} or upload to the watched bucket"
            )
        if not objects:
            raise AirflowSkipException("the triggering events name no created object (e.g. only s3:TestEvent)")
        check_fanout(len(objects), "videos to transcode", "Upload fewer files at once, or trigger one run per file.")
        self.log.info("transcoding %d object(s): %s", len(objects), objects[:10])
        return objects
