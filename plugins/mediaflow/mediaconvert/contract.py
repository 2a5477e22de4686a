"""Conf contract of `mediaconvert_transcode`.

Every key may be left out: a run started by the upload asset has an empty conf and takes the
object from the triggering events, the destination from the object's name, and the role from a
Variable or the connection (see docs/dags/mediaconvert_transcode.md).
"""

from __future__ import annotations

from mediaflow.common import params as fields

ROLE_ARN_PATTERN = r"^arn:aws[a-z\-]*:iam::\d{12}:role/[\w+=,.@\-/]{1,512}$"
DESTINATION_PATTERN = r"^s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]/(.*/)?$"

PARAMS = {
    "bucket": fields.bucket(
        "Bucket of the video to transcode. Leave empty in runs started by an upload event.",
        None,
        required=False,
    ),
    "key": fields.string(
        "Key of the video to transcode (e.g. `uploads/clip.mp4`). Leave empty in runs started by an upload event.",
        None,
        minLength=1,
        maxLength=1024,
    ),
    "template": fields.string(
        "Bundled job template (a JSON file in include/mediaconvert/): `mp4_renditions` (1080p/720p/480p MP4) "
        "or `mp4_hls_renditions` (the same plus an HLS ladder). Ignored when `job_template_name` is set.",
        "mp4_renditions",
        nullable=False,
        pattern=r"^[A-Za-z0-9_\-]{1,100}$",
    ),
    "job_template_name": fields.string(
        "Name or ARN of a MediaConvert job template to use instead of a bundled template.",
        None,
        minLength=1,
        maxLength=400,
    ),
    "destination": fields.string(
        "Where the renditions go, `s3://bucket/prefix/` (ends with `/`). "
        "Default: `s3://mediaflow-renditions/<key stem>/` (bucket from Variable `mediaflow_renditions_bucket`).",
        None,
        pattern=DESTINATION_PATTERN,
    ),
    "role_arn": fields.string(
        "IAM role MediaConvert assumes to read the input and write the outputs. Default: Variable "
        "`mediaflow_mediaconvert_role_arn`, else the `mediaconvert_role_arn` extra of `aws_default`.",
        None,
        pattern=ROLE_ARN_PATTERN,
    ),
    "queue": fields.string(
        "MediaConvert queue name or ARN. Default: the account's Default queue (or the template's).",
        None,
        minLength=1,
        maxLength=400,
    ),
}
