"""Conf contract of `mediaconvert_transcode`.

`bucket` and `key` may be empty only in a run started by the upload asset: it has an empty conf
and takes the object from the triggering events, the destination from the object's name, and
the role from a Variable or the connection (see docs/dags/mediaconvert_transcode.md). Every
other way in needs both; `validate` says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mediaflow.common import params as fields
from mediaflow.common.errors import InputError
from mediaflow.mediaconvert.jobs import DEFAULT_TEMPLATE, bundled_templates

ROLE_ARN_PATTERN = r"^arn:aws[a-z\-]*:iam::\d{12}:role/[\w+=,.@\-/]{1,512}$"
DESTINATION_PATTERN = r"^s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]/(.*/)?$"

PARAMS = fields.with_deployment_defaults(
    "mediaconvert_transcode",
    {
        "bucket": fields.bucket(
            "Input bucket", "Bucket of the video to transcode. Required, except in runs started by an upload event."
        ),
        "key": fields.text(
            "Video key",
            "Key of the video to transcode (e.g. `uploads/clip.mp4`, not URL-encoded). Required, except in runs "
            "started by an upload event.",
            minLength=1,
            maxLength=fields.MAX_KEY_LENGTH,
        ),
        "template": fields.text(
            "Job template (bundled)",
            "Bundled job template, a JSON file in include/mediaconvert/: mp4_renditions (1080p, 720p, 480p MP4) or "
            "mp4_hls_renditions (the same plus an HLS ladder). Ignored when a MediaConvert job template is set.",
            DEFAULT_TEMPLATE,
            required=True,
            pattern=r"^[A-Za-z0-9_\-]{1,100}$",
            examples=bundled_templates(),
            **{"x-hint": "the name of a bundled template (letters, digits, _ and -), e.g. mp4_renditions"},
        ),
        "destination": fields.text(
            "Destination",
            "Where the renditions go, s3://bucket/prefix/ (ends with /). Empty: s3://<renditions bucket>/<key "
            "stem>/ (bucket from Variable `mediaflow_renditions_bucket`, else mediaflow-renditions).",
            pattern=DESTINATION_PATTERN,
            maxLength=fields.MAX_KEY_LENGTH + 70,
            **{"x-hint": "an S3 location ending in /, like s3://bucket/renditions/"},
        ),
        "job_template_name": fields.text(
            "MediaConvert job template",
            "Name or ARN of a job template in MediaConvert, used instead of the bundled template. Empty: the bundled "
            "template.",
            section="Advanced",
            minLength=1,
            maxLength=400,
        ),
        "role_arn": fields.text(
            "Service role",
            "IAM role MediaConvert assumes to read the input and write the outputs. Empty: Variable "
            "`mediaflow_mediaconvert_role_arn`, else the `mediaconvert_role_arn` extra of `aws_default`.",
            section="Advanced",
            pattern=ROLE_ARN_PATTERN,
            **{"x-hint": "an IAM role ARN like arn:aws:iam::123456789012:role/MediaConvertRole"},
        ),
        "queue": fields.text(
            "Queue",
            "MediaConvert queue name or ARN. Empty: the account's Default queue (or the template's).",
            section="Advanced",
            minLength=1,
            maxLength=400,
        ),
    },
)


def validate(conf: Mapping[str, Any]) -> None:
    """The rule across keys: an input, as `bucket` and `key` together."""
    if not conf.get("bucket") or not conf.get("key"):
        missing = [k for k in ("bucket", "key") if not conf.get(k)]
        raise InputError(
            f"no input: {' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} empty. Give the video as "
            "bucket and key (runs started by an upload event take it from the event instead)."
        )
