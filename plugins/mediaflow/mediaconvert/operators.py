"""Submit MediaConvert jobs from editable templates and wait for them without holding a worker."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.amazon.aws.utils import validate_execute_complete_event
from airflow.sdk import BaseOperator, Context, Variable, conf
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException
from botocore.exceptions import ClientError

from mediaflow.common.tasks import check_fanout, fail_fast
from mediaflow.common.upload_events import uploaded_objects
from mediaflow.mediaconvert.hook import MediaConvertHook
from mediaflow.mediaconvert.jobs import (
    DEFAULT_TEMPLATE,
    TERMINAL_STATUSES,
    JobSettingsError,
    NamingContext,
    SourceInfo,
    build_request,
    client_request_token,
    default_destination,
    expected_outputs,
    listed_outputs,
    listing_prefixes,
    load_template,
    missing_outputs,
    output_keys,
    outputs_summary,
    validate_request,
)
from mediaflow.mediaconvert.links import MediaConvertJobLink
from mediaflow.mediaconvert.trigger import MediaConvertJobTrigger

log = logging.getLogger(__name__)

#: where an event-triggered run (no conf) finds its role and output bucket
ROLE_VARIABLE = "mediaflow_mediaconvert_role_arn"
ROLE_CONN_EXTRA = "mediaconvert_role_arn"
RENDITIONS_BUCKET_VARIABLE = "mediaflow_renditions_bucket"
DEFAULT_RENDITIONS_BUCKET = "mediaflow-renditions"
#: accepted by the local MediaConvert service only; not a secret and not a real role
LOCAL_ROLE_ARN = "arn:aws:iam::123456789012:role/mediaflow-local-mediaconvert"
#: how long a wait lasts by default, whatever the delay between looks
DEFAULT_WAIT = timedelta(hours=48)


def attempts_for(waiter_delay: float, wait: timedelta = DEFAULT_WAIT) -> int:
    """The waiter attempts that cover `wait` with `waiter_delay` seconds between looks."""
    return max(1, math.ceil(wait.total_seconds() / waiter_delay))


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
    MediaConvert's code and message, or when an object MediaConvert should have written is missing.

    Every object of every group is checked (files, HLS/DASH/CMAF manifests, playlists, init and
    media segments, frame captures), named as MediaConvert names them from the job's settings and
    the durations GetJob reports; the task log gets a summary and XCom the URIs people open."""
    status = job.get("Status")
    if status != "COMPLETE":
        code, message = job.get("ErrorCode"), job.get("ErrorMessage")
        if code or message:
            detail = f"error {code}: {message}"
        elif status == "CANCELED":
            detail = "canceled in the console, through the API, or because its task was killed"
        else:
            detail = "no error message"
        raise AirflowFailException(f"MediaConvert job {job.get('Id')} ended {status}: {detail}")
    settings = job.get("Settings") or {}
    start = (job.get("Timing") or {}).get("StartTime")
    try:
        groups = expected_outputs(
            settings,
            job.get("OutputGroupDetails"),
            NamingContext(start_time=start if isinstance(start, datetime) else None),
        )
    except JobSettingsError as exc:  # a name that depends on what the job alone knew
        log.warning(
            "MediaConvert job %s is COMPLETE; its outputs cannot be named here, so not checked: %s", job.get("Id"), exc
        )
        return {"job_id": job.get("Id"), "status": status, "outputs": [], "objects": 0}
    expected = [uri for group in groups for uri in group.uris()]
    missing = missing_outputs(groups, _listed(S3Hook(aws_conn_id=aws_conn_id), expected))
    if missing:
        shown = ", ".join(missing[:20]) + (f" and {len(missing) - 20} more" if len(missing) > 20 else "")
        raise AirflowException(
            f"MediaConvert job {job.get('Id')} is COMPLETE but {len(missing)} of its {len(expected)} outputs are not "
            f"in S3: {shown}. Check the destination bucket's lifecycle rules and the role's s3:PutObject permission."
        )
    input_uri = ((settings.get("Inputs") or [{}])[0]).get("FileInput", "")
    log.info("\n".join(outputs_summary(job.get("Id", ""), input_uri, groups)))
    return {"job_id": job.get("Id"), "status": status, "outputs": listed_outputs(groups), "objects": len(expected)}


def _listed(s3: S3Hook, uris: list[str]) -> set[str]:
    """The URIs of every object under the prefixes `uris` share (one listing per bucket)."""
    found: set[str] = set()
    for bucket, prefix in listing_prefixes(uris).items():
        found.update(f"s3://{bucket}/{key}" for key in s3.list_keys(bucket_name=bucket, prefix=prefix) or [])
    return found


def outputs_after_wait(hook: MediaConvertHook, event: dict[str, Any] | None, aws_conn_id: str | None) -> dict[str, Any]:
    """What a task resumed by MediaConvertJobTrigger returns: the job's outputs, or its failure.

    A job that ended ERROR or CANCELED fails the task at once (a retry would get the same job
    back); a wait that stopped for another reason (attempts exhausted, GetJob refused) fails it
    with the trigger's message, and a retry waits again for the same job."""
    event = validate_execute_complete_event(event)
    job = hook.get_job(event["job_id"])
    if event["status"] != "success" and job["Status"] not in TERMINAL_STATUSES:
        raise AirflowException(f"waiting for MediaConvert job {job['Id']} failed: {event.get('message')}")
    return completed_outputs(job, aws_conn_id)


class MediaConvertCreateJobOperator(BaseOperator):
    """Submit one MediaConvert job for `s3://bucket/key` and (by default) wait until it ends.

    The job comes from a bundled JSON template (`template`, see `include/mediaconvert/`) or
    from a MediaConvert job template (`job_template_name`). The input is probed first so that
    renditions taller than the source and audio outputs for a silent input are left out, and
    the request is checked against botocore's model before anything is sent. A retried task
    sends the same ClientRequestToken, so MediaConvert answers with the job it already has.
    Killing the task cancels the job. Returns `{"job_id", "status", "outputs": [s3 URIs]}`.

    :param bucket: bucket of the input video.
    :param key: key of the input video.
    :param destination: `s3://bucket/prefix/` for the renditions (default: the renditions
        bucket of Variable `mediaflow_renditions_bucket`, under the input's stem).
    :param role_arn: IAM role MediaConvert assumes (default: Variable
        `mediaflow_mediaconvert_role_arn`, then the connection's `mediaconvert_role_arn` extra).
    :param template: name of a bundled template in `include/mediaconvert/`.
    :param job_template_name: name or ARN of a MediaConvert job template, instead of `template`.
    :param mediaconvert_queue: MediaConvert queue name or ARN (default: the template's, else Default).
    :param aws_conn_id: the Airflow connection for AWS credentials and endpoints.
    :param region_name: the AWS region of the job (default: the connection's).
    :param probe_input: fit the renditions to the input's size and audio (ffprobe over S3).
    :param wait_for_completion: wait for the job to end; False returns as soon as it is submitted.
    :param deferrable: wait in the triggerer instead of a worker slot
        (default: `[operators] default_deferrable`).
    :param waiter_delay: seconds between two looks at the job.
    :param waiter_max_attempts: looks before the wait gives up (default: enough for 48 hours).
    """

    template_fields: Sequence[str] = (
        "bucket",
        "key",
        "destination",
        "role_arn",
        "template",
        "job_template_name",
        "mediaconvert_queue",
        "aws_conn_id",
        "region_name",
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
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        waiter_delay: float = 30,
        waiter_max_attempts: int | None = None,
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
        self.waiter_delay = waiter_delay
        self.waiter_max_attempts = waiter_max_attempts or attempts_for(waiter_delay)
        self.job_id: str | None = None

    @cached_property
    def hook(self) -> MediaConvertHook:
        return MediaConvertHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name)

    @fail_fast()
    def execute(self, context: Context) -> dict[str, Any] | None:
        job = self._submit(context)
        if not self.wait_for_completion:
            return {"job_id": job["Id"], "status": job["Status"], "outputs": output_keys(job.get("Settings") or {})}
        if job["Status"] in TERMINAL_STATUSES:
            return completed_outputs(job, self.aws_conn_id)
        if self.deferrable:
            self.defer(
                trigger=MediaConvertJobTrigger(
                    job_id=job["Id"],
                    cancel_on_kill=True,
                    waiter_delay=self.waiter_delay,
                    waiter_max_attempts=self.waiter_max_attempts,
                    aws_conn_id=self.aws_conn_id,
                    region_name=self.region_name,
                ),
                method_name="execute_complete",
                timeout=timedelta(seconds=self.waiter_delay * self.waiter_max_attempts + 60),
            )
        job = self.hook.wait_for_job(
            job["Id"], waiter_delay=self.waiter_delay, waiter_max_attempts=self.waiter_max_attempts
        )
        return completed_outputs(job, self.aws_conn_id)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        return outputs_after_wait(self.hook, event, self.aws_conn_id)

    def on_kill(self) -> None:
        """Cancel the job this task submitted: a user killed the task, or it ran out of time."""
        if not self.job_id:
            self.log.info("task killed before any MediaConvert job was submitted")
            return
        try:
            self.hook.cancel_job(self.job_id)
        except ClientError as exc:  # e.g. the job ended meanwhile
            self.log.warning("could not cancel MediaConvert job %s: %s", self.job_id, exc)
            return
        self.log.info("canceled MediaConvert job %s: its task was killed", self.job_id)

    def _submit(self, context: Context) -> dict[str, Any]:
        """Build, check and submit the request; a bad input or template fails here, before any job exists."""
        if not self.bucket or not self.key:
            raise AirflowFailException("MediaConvert: give the input as bucket and key (conf `bucket`, `key`).")
        input_uri = f"s3://{self.bucket}/{self.key}"
        head = S3Hook(aws_conn_id=self.aws_conn_id).head_object(self.key, self.bucket)
        if head is None:
            raise AirflowFailException(
                f"{input_uri} does not exist: check `bucket` and `key` (keys are case-sensitive)."
            )
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
                role_arn=self._role_arn(),
                queue=self.mediaconvert_queue,
                job_template_name=self.job_template_name,
                source=source,
                user_metadata={"dag_id": ti.dag_id, "run_id": ti.run_id, "task_id": ti.task_id},
                client_request_token=token,
            )
            validate_request(request)
        except JobSettingsError as exc:
            raise AirflowFailException(f"{input_uri}: {exc}") from exc
        job = self.hook.create_job(request)
        self.job_id = job["Id"]  # from here on, killing the task cancels the job
        self.log.info(
            "MediaConvert job %s for %s is %s (outputs under %s)", job["Id"], input_uri, job["Status"], destination
        )
        MediaConvertJobLink.persist_job(context, self, self.hook, job["Id"])
        return job

    def _role_arn(self) -> str:
        """The role MediaConvert assumes: conf, then Variable, then the connection extra, then
        (on the local stack only) a placeholder the local service accepts."""
        if self.role_arn:
            return self.role_arn
        conn_config = self.hook.conn_config
        role = Variable.get(ROLE_VARIABLE, default=None) or conn_config.extra_config.get(ROLE_CONN_EXTRA)
        if role:
            return role
        endpoint = conn_config.get_service_endpoint_url("mediaconvert") or ""
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
    `s3:TestEvent` ignored). Returns `[{"bucket", "key"}]` for the mapped transcode task.

    :param bucket: bucket of the video to transcode (conf `bucket`); empty in an event-started run.
    :param key: key of the video to transcode (conf `key`); empty in an event-started run.
    """

    template_fields: Sequence[str] = ("bucket", "key")

    def __init__(self, *, bucket: str | None = None, key: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bucket = bucket
        self.key = key

    @fail_fast()
    def execute(self, context: Context) -> list[dict[str, str]]:
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
