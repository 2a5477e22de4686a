"""One real Airflow deployment for the browser suite, started as `make up` starts it (the
local stack's form defaults, the sample data, the Frame.io Variable), and a logged-in Chromium.

The browser is Debian's Chromium (`scripts/ensure-tools.sh` installs it) driven by the
`playwright` package; Playwright's own browser downloads are never used."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tests.helpers import airflow_deployment, require

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
DAG_IDS = (
    "mediaflow_healthcheck",
    "s3_bulk_copy",
    "frameio_backup",
    "frameio_backup_scheduled",
    "video_segment_index",
    "mediaconvert_transcode",
)


@pytest.fixture(scope="module")
def deployment(local_stack, embedded_postgres, tmp_path_factory):
    from include.local_stack.airflow_local import seed_samples

    with airflow_deployment(tmp_path_factory.mktemp("airflow-browser-home"), local_stack, embedded_postgres) as af:
        for dag_id in DAG_IDS:
            af.wait_for_dag(dag_id)
        af.samples = seed_samples(local_stack, af)
        yield af


@pytest.fixture(scope="module")
def page(deployment):
    require(Path(CHROMIUM).exists(), f"{CHROMIUM}: run `make tools` (as root it installs Debian's chromium)")
    require(importlib.util.find_spec("playwright"), "the playwright package: `make venv`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 2000})
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=deployment.base_url)
        context.set_default_timeout(30_000)
        tab = context.new_page()
        tab.goto(f"{deployment.base_url}/auth/login")
        tab.fill("input[name=username]", "admin")
        tab.fill("input[name=password]", deployment.password)
        tab.click("button[type=submit]")
        tab.wait_for_url(lambda url: "/auth/login" not in url)
        yield tab
        browser.close()
