"""Every DAG triggered from its Airflow UI form, in a real browser, as a user would.

For each DAG: the form opens with a title and a description on every field and the widget its
type calls for; a screenshot of it is taken (written to docs/img/forms/, which the README's DAG
catalog shows, when MEDIAFLOW_UPDATE_SCREENSHOTS=1; to the test's temp folder otherwise, so a
test run never changes the checkout); one bad value is refused with a readable sentence in the form and no run is created;
then the form is submitted with its defaults (the local deployment's, pointing at the sample
data) or the sample values `make up` prints, and the run succeeds.
"""

from __future__ import annotations

import json
import os
import time

import pytest

from mediaflow.common.contracts import params_for
from tests.browser.conftest import DAG_IDS
from tests.helpers import ROOT

pytestmark = pytest.mark.integration

FORM_PICTURES = ROOT / "docs" / "img" / "forms"
UPDATE_PICTURES = os.environ.get("MEDIAFLOW_UPDATE_SCREENSHOTS") == "1"

#: what a user sees for each field: the widget the Airflow 3 form renders for its schema
WIDGETS = {
    "mediaflow_healthcheck": {
        "buckets": "lines",
        "table_name": "text",
        "queue_names": "lines",
        "check_ffmpeg": "toggle",
    },
    "s3_bulk_copy": {
        "source_bucket": "text",
        "source_prefix": "text",
        "destination_bucket": "text",
        "destination_prefix": "text",
        "dry_run": "toggle",
        "manifest_uri": "text",
        "routes": "json",
        "file_types": "lines",
        "min_size": "number",
        "max_size": "number",
        "modified_after": "datetime",
        "skip_existing": "toggle",
        "delete_source": "toggle",
        "acl": "dropdown",
        "storage_class": "dropdown",
        "sse_kms_key_id": "text",
        "report_bucket": "text",
        "report_prefix": "text",
        "report_scope": "dropdown",
        "max_payload_bytes": "number",
        "max_payload_objects": "number",
        "max_parallel_payloads": "number",
        "multipart_threshold": "number",
    },
    "frameio_backup": {
        "asset_id": "text",
        "asset_type": "dropdown",
        "destination_bucket": "text",
        "destination_prefix": "text",
        "api_version": "dropdown",
        "account_id": "text",
        "include_versions": "toggle",
        "skip_existing": "toggle",
        "assets": "json",
        "interaction_id": "text",
    },
    "frameio_backup_scheduled": {"targets": "json"},
    "video_segment_index": {
        "bucket": "text",
        "key": "text",
        "prefix": "text",
        "segment_seconds": "number",
        "mode": "dropdown",
        "output_bucket": "text",
        "output_key_prefix": "text",
        "table_name": "text",
        "force": "toggle",
    },
    "mediaconvert_transcode": {
        "bucket": "text",
        "key": "text",
        "template": "text",
        "destination": "text",
        "job_template_name": "text",
        "role_arn": "text",
        "queue": "text",
    },
}

#: per DAG: (a field to set, a value that cannot work, what the form then says)
BAD_VALUES = {
    "mediaflow_healthcheck": ("buckets", "Not_A_Bucket", "buckets[0] 'Not_A_Bucket' is not an S3 bucket name"),
    "s3_bulk_copy": ("destination_bucket", "", "no destination: set destination_bucket or routes"),
    "frameio_backup": ("destination_bucket", "Backup_Bucket", "destination_bucket 'Backup_Bucket' is not an S3 bucket"),
    "frameio_backup_scheduled": ("targets", '[{"asset_id": "p"}]', "targets[0] is missing 'destination_bucket'"),
    "video_segment_index": ("output_key_prefix", "{video_name:>2000}", "formats a field ({video_name:>2000})"),
    "mediaconvert_transcode": ("key", "", "no input: key is empty"),
}

#: what each field's DOM says about its widget (the Airflow 3 UI's FlexibleForm components)
FIELDS_JS = """
() => Array.from(document.querySelectorAll('[role=dialog] [data-scope=field][data-part=root]')).flatMap(root => {
  const label = root.querySelector('label[data-part=label]');
  if (!label) return [];
  // the date-time picker carries no element id: the caller finds its key by its title
  const named = root.querySelector('[id*="element_"], [name^="element_"]');
  const key = named ? (named.getAttribute('name') || named.id).replace(/^.*element_/, '').replace(/:.*$/, '') : null;
  let kind = 'text';
  if (root.querySelector('[data-scope=switch]')) kind = 'toggle';
  else if (root.querySelector('[data-scope=number-input]')) kind = 'number';
  else if (root.querySelector('[data-testid=datetime-input]')) kind = 'datetime';
  else if (root.querySelector('.monaco-editor')) kind = 'json';
  else if (root.querySelector('textarea')) kind = 'lines';
  else if (root.querySelector('input[type=hidden][name^="element_"]')) kind = 'dropdown';
  const help = root.querySelector('[data-part=helper-text]');
  return [{key, kind,
           title: label.firstChild.textContent.trim(),
           required: !!root.querySelector('.chakra-field__requiredIndicator'),
           help: help ? help.textContent : ''}];
})
"""

triggered: dict[str, str] = {}


def open_form(page, deployment, dag_id: str):
    page.goto(f"{deployment.base_url}/dags/{dag_id}")
    page.get_by_role("button", name="Trigger").first.click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("Run Parameters").wait_for()
    dialog.locator("[data-scope=field]").first.wait_for()
    return dialog


def set_field(page, dialog, key: str, widget: str, value: str) -> None:
    field = dialog.locator(f"#element_{key}")
    if widget == "json":
        field.locator(".view-lines").click()
        page.keyboard.press("Control+A")
        page.keyboard.press("Delete")
        # pasted in one go: typed, the editor closes brackets and reformats half-typed JSON
        page.evaluate("text => navigator.clipboard.writeText(text)", value)
        page.keyboard.press("Control+V")
    else:
        field.fill(value)


def submit(dialog) -> None:
    dialog.get_by_role("button", name="Trigger").click()


def new_run(deployment, dag_id: str, before: set[str], timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = [r for r in deployment.dag_runs(dag_id) if r["dag_run_id"] not in before and r["run_type"] == "manual"]
        if runs:
            return runs[0]["dag_run_id"]
        time.sleep(1)
    raise AssertionError(f"the form of {dag_id} was submitted but no run appeared within {timeout:.0f}s")


def run_ids(deployment, dag_id: str) -> set[str]:
    """Runs a person started (a scheduled DAG also gets runs of its own once unpaused)."""
    return {r["dag_run_id"] for r in deployment.dag_runs(dag_id) if r["run_type"] == "manual"}


def test_every_contract_field_has_an_expected_widget():
    for dag_id in DAG_IDS:
        assert set(WIDGETS[dag_id]) == set(params_for(dag_id)), dag_id


@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_form_fields_are_titled_described_and_typed(page, deployment, dag_id, tmp_path_factory):
    dialog = open_form(page, deployment, dag_id)
    params = params_for(dag_id)
    by_title = {p.schema["title"]: key for key, p in params.items()}
    shown_fields = page.evaluate(FIELDS_JS)
    fields = {f["key"] or by_title[f["title"]]: f for f in shown_fields if f["key"] or f["title"] in by_title}
    assert set(fields) == set(params), f"{dag_id}: fields in the form differ from the contract"
    for key, param in params.items():
        shown = fields[key]
        types = param.schema["type"] if isinstance(param.schema["type"], list) else [param.schema["type"]]
        assert shown["title"] == param.schema["title"], (dag_id, key, shown)
        assert shown["help"].startswith(param.description[:40]), (dag_id, key, shown)
        assert shown["kind"] == WIDGETS[dag_id][key], (dag_id, key, shown)
        assert shown["required"] == ("null" not in types), (dag_id, key, "required marker", shown)
    pictures = FORM_PICTURES if UPDATE_PICTURES else tmp_path_factory.mktemp("forms")
    pictures.mkdir(parents=True, exist_ok=True)
    # the parameters only: the logical date above them changes every run
    dialog.locator("[data-scope=accordion][data-part=root]").first.screenshot(path=pictures / f"{dag_id}.png")


@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_a_bad_value_is_refused_in_the_form_before_any_run_exists(page, deployment, dag_id):
    key, value, expected = BAD_VALUES[dag_id]
    before = run_ids(deployment, dag_id)
    dialog = open_form(page, deployment, dag_id)
    if dag_id == "frameio_backup":  # the asset id is required: give one, so the bucket is what is wrong
        dialog.locator("#element_asset_id").fill("some-asset")
    set_field(page, dialog, key, WIDGETS[dag_id][key], value)
    submit(dialog)
    banner = dialog.get_by_text(f"{dag_id}: ", exact=False)
    banner.wait_for()
    assert expected in banner.inner_text()
    for dump in ("schema[", "is not valid under any of the given schemas", "Invalid input for param"):
        assert dump not in dialog.inner_text()
    assert run_ids(deployment, dag_id) == before, f"{dag_id}: a refused form created a run"


@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_the_form_triggers_a_run_with_its_defaults_or_the_sample_values(page, deployment, dag_id):
    before = run_ids(deployment, dag_id)
    dialog = open_form(page, deployment, dag_id)
    if dag_id == "frameio_backup":  # the one value a form cannot know: the stand-in's project id
        dialog.locator("#element_asset_id").fill(deployment.samples["frameio_backup"]["asset_id"])
        dialog.locator("#element_asset_type").click()
        page.get_by_role("option", name="project", exact=True).click()
    if dag_id == "s3_bulk_copy":  # an optional number, typed in: it must arrive as a number
        dialog.get_by_role("button", name="Filters").click()
        dialog.locator("[name=element_min_size]").fill("1")
    submit(dialog)
    triggered[dag_id] = new_run(deployment, dag_id, before)


def test_every_run_triggered_from_a_form_succeeds(deployment, local_stack):
    assert set(triggered) == set(DAG_IDS), f"forms not submitted: {set(DAG_IDS) - set(triggered)}"
    states = {dag_id: deployment.wait(dag_id, run_id, timeout=600) for dag_id, run_id in triggered.items()}
    failed = {d: s for d, s in states.items() if s != "success"}
    assert not failed, json.dumps(
        {d: [(t["task_id"], t["state"]) for t in deployment.task_instances(d, triggered[d])] for d in failed}
    )
    # what the forms did, read back from the local stack: min_size 1 left out the empty object
    copy_run = deployment.api("GET", f"/api/v2/dags/s3_bulk_copy/dagRuns/{triggered['s3_bulk_copy']}").json()
    assert copy_run["conf"]["min_size"] == 1 and type(copy_run["conf"]["min_size"]) is int
    s3 = local_stack.boto3_client("s3")
    copied = s3.list_objects_v2(Bucket="mediaflow-destination", Prefix="demo-copy/").get("KeyCount", 0)
    assert copied == 6
    backed_up = s3.list_objects_v2(Bucket="mediaflow-backup", Prefix="frameio-scheduled/").get("KeyCount", 0)
    assert backed_up > 0
