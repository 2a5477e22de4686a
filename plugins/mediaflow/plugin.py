"""The Airflow plugin: API-server middleware, webhook apps and operator extra links."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from mediaflow.common.api_auth import authenticated
from mediaflow.common.conf_guard import ConfGuard
from mediaflow.frameio.webhook import app as frameio_custom_action_app
from mediaflow.mediaconvert.links import MediaConvertJobLink


class MediaflowPlugin(AirflowPlugin):
    name = "mediaflow"
    fastapi_root_middlewares = [
        {
            "middleware": ConfGuard,
            "args": [],
            "kwargs": {"authenticated": authenticated},
            "name": "mediaflow conf guard",
        },
    ]
    fastapi_apps: list[dict] = [
        {"app": frameio_custom_action_app, "url_prefix": "/frameio", "name": "Frame.io Custom Actions"},
    ]
    operator_extra_links: list = [MediaConvertJobLink()]
