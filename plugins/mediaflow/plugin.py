"""The Airflow plugin: API-server middleware, webhook apps and operator extra links."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from mediaflow.links.mediaconvert import MediaConvertJobLink
from mediaflow.webhooks.conf_guard import UnknownConfKeyGuard


class MediaflowPlugin(AirflowPlugin):
    name = "mediaflow"
    fastapi_root_middlewares = [
        {"middleware": UnknownConfKeyGuard, "args": [], "kwargs": {}, "name": "mediaflow conf guard"},
    ]
    fastapi_apps: list[dict] = []
    operator_extra_links: list = [MediaConvertJobLink()]
