"""The conf contracts: Param shapes the trigger form renders, deployment defaults, the whole-conf
check (unknown keys, values worded for people, rules across keys) and the first task's hook."""

from __future__ import annotations

import json

import pytest

from mediaflow.common.conf import CONF_DEFAULTS_ENV
from mediaflow.common.contracts import CONTRACTS, conf_problem, params_for, unknown_keys, unknown_keys_message

SOURCE = {"source_bucket": "media-in", "destination_bucket": "media-out"}


def test_unknown_keys_only_for_our_dags():
    assert unknown_keys("mediaflow_healthcheck", {"buckets": [], "bucketz": 1}) == ["bucketz"]
    assert unknown_keys("mediaflow_healthcheck", {"buckets": []}) == []
    assert unknown_keys("someone_elses_dag", {"anything": 1}) == []
    assert params_for("someone_elses_dag") is None
    assert conf_problem("someone_elses_dag", {"anything": 1}) is None
    assert conf_problem("fields", {"conf": 1}) is None


def test_message_names_the_key_and_the_accepted_ones():
    msg = unknown_keys_message("mediaflow_healthcheck", ["bucketz"])
    assert "'bucketz'" in msg
    assert "buckets" in msg
    assert "table_name" in msg


# -- the shapes the Airflow 3 form turns into widgets ----------------------------------------------
@pytest.mark.parametrize("dag_id", sorted(CONTRACTS))
def test_every_field_has_a_title_a_description_and_a_type_the_form_can_render(dag_id):
    for key, param in params_for(dag_id).items():
        schema = param.schema
        assert schema.get("title"), f"{dag_id}.{key} has no title"
        assert param.description, f"{dag_id}.{key} has no description"
        # `anyOf` leaves the form nothing to infer a widget from: it shows a text box that sends text
        assert "anyOf" not in schema and "oneOf" not in schema, f"{dag_id}.{key}"
        types = [schema["type"]] if isinstance(schema["type"], str) else schema["type"]
        assert len([t for t in types if t != "null"]) == 1, f"{dag_id}.{key}: one widget type, optionally null"


def _schema(dag_id, key):
    return params_for(dag_id)[key].schema


def test_optional_numbers_enums_lists_and_booleans_use_the_form_widget_shapes():
    # number boxes that may stay empty (null: no limit) and send numbers
    assert _schema("s3_bulk_copy", "min_size")["type"] == ["integer", "null"]
    assert _schema("s3_bulk_copy", "max_payload_bytes")["type"] == "integer"
    # dropdowns, with "null" the first option of the optional ones
    for key in ("acl", "storage_class"):
        assert _schema("s3_bulk_copy", key)["type"] == ["string", "null"]
        assert _schema("s3_bulk_copy", key)["enum"][0] is None
    assert _schema("video_segment_index", "mode")["enum"] == ["copy", "exact"]
    # one item per line, and a JSON editor for lists of objects
    assert _schema("s3_bulk_copy", "file_types")["items"]["type"] == "string"
    assert _schema("s3_bulk_copy", "routes")["items"]["type"] == "object"
    assert _schema("frameio_backup_scheduled", "targets")["items"]["type"] == "object"
    assert _schema("s3_bulk_copy", "dry_run")["type"] == "boolean"
    # an emptied text field sends null: prefixes accept it
    assert "null" in _schema("s3_bulk_copy", "source_prefix")["type"]


def test_no_bucket_defaults_to_demo_data_without_the_deployment_setting_it():
    for dag_id in CONTRACTS:
        for key, param in params_for(dag_id).items():
            value = json.dumps(param.value if param.has_value else None)
            assert "mediaflow-" not in value or key == "table_name" or key == "report_prefix", (dag_id, key, value)


def test_deployment_defaults_replace_the_contracts_and_are_checked(monkeypatch):
    from mediaflow.common.params import with_deployment_defaults

    params = params_for("s3_bulk_copy")
    env = {CONF_DEFAULTS_ENV: json.dumps({"s3_bulk_copy": {"source_bucket": "prod-media", "min_size": 10}})}
    out = with_deployment_defaults("s3_bulk_copy", params, env)
    assert (out["source_bucket"].value, out["min_size"].value) == ("prod-media", 10)
    assert out["source_bucket"].schema == params["source_bucket"].schema
    assert params["source_bucket"].value is None, "the contract itself is left as it was"
    with pytest.raises(ValueError, match="source_bucket 'Prod_Media' is not an S3 bucket name"):
        with_deployment_defaults(
            "s3_bulk_copy", params, {CONF_DEFAULTS_ENV: '{"s3_bulk_copy": {"source_bucket": "Prod_Media"}}'}
        )
    with pytest.raises(ValueError, match="has no conf key 'source_buckt'"):
        with_deployment_defaults("s3_bulk_copy", params, {CONF_DEFAULTS_ENV: '{"s3_bulk_copy": {"source_buckt": "b"}}'})
    with pytest.raises(ValueError, match=f"{CONF_DEFAULTS_ENV} is not valid JSON"):
        with_deployment_defaults("s3_bulk_copy", params, {CONF_DEFAULTS_ENV: "{nope"})


# -- values worded for people -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("dag_id", "conf", "expected"),
    [
        ("s3_bulk_copy", {**SOURCE, "min_size": "100"}, "min_size must be a whole number, not '100'."),
        ("s3_bulk_copy", {**SOURCE, "min_size": -1}, "min_size must be at least 0; got -1."),
        (
            "s3_bulk_copy",
            {**SOURCE, "destination_bucket": "Not_A_Bucket!"},
            "destination_bucket 'Not_A_Bucket!' is not an S3 bucket name (3 to 63 lowercase letters, digits, dots "
            "and hyphens).",
        ),
        ("s3_bulk_copy", {**SOURCE, "acl": "everyone"}, "acl must be one of empty, 'private',"),
        ("s3_bulk_copy", {**SOURCE, "file_types": ["mp4", ""]}, "file_types[1] must not be empty."),
        (
            "s3_bulk_copy",
            {**SOURCE, "routes": [{"file_types": ["mp4"], "bukket": "x"}]},
            "routes[0] is missing 'bucket'.",
        ),
        (
            "s3_bulk_copy",
            {**SOURCE, "manifest_uri": "bucket/manifest.csv"},
            "manifest_uri 'bucket/manifest.csv' is not an S3 URI like s3://bucket/path/file.csv.",
        ),
        ("mediaflow_healthcheck", {"buckets": "mediaflow-source"}, "buckets must be a list, not 'mediaflow-source'."),
        ("frameio_backup", {"destination_bucket": "backup-bucket"}, "asset_id is required: Id of the Frame.io file"),
        (
            "video_segment_index",
            {"bucket": "b", "key": "a.mp4", "force": "yes"},
            "force must be true or false, not 'yes'.",
        ),
    ],
)
def test_bad_values_are_refused_in_plain_words(dag_id, conf, expected):
    problem = conf_problem(dag_id, conf)
    assert problem is not None and problem.startswith(f"{dag_id}: ")
    assert expected in problem
    for dump in ("schema[", "is not valid under any of the given schemas", "^[a-z0-9]", "{'type'"):
        assert dump not in problem


# -- rules across keys ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("dag_id", "conf", "expected"),
    [
        ("s3_bulk_copy", {}, "nothing to copy: set source_bucket"),
        ("s3_bulk_copy", {"destination_bucket": "out-bucket"}, "nothing to copy: set source_bucket"),
        ("s3_bulk_copy", {"source_bucket": "in-bucket"}, "no destination: set destination_bucket or routes"),
        ("s3_bulk_copy", {**SOURCE, "min_size": 10, "max_size": 5}, "min_size (10) is larger than max_size (5)"),
        ("s3_bulk_copy", {**SOURCE, "modified_after": "2024-05-01T00:00:00"}, "time zone"),
        (
            "s3_bulk_copy",
            {"source_bucket": "same", "destination_bucket": "same", "source_prefix": "a/", "destination_prefix": "a/"},
            "every object would be copied onto itself",
        ),
        ("video_segment_index", {}, "bucket is empty: name the bucket holding the video(s)"),
        ("video_segment_index", {"bucket": "media-in"}, "give key (one video in media-in) or prefix"),
        ("video_segment_index", {"bucket": "b-1", "key": "a.mp4", "prefix": "x/"}, "are both set"),
        ("mediaconvert_transcode", {}, "no input: bucket and key are empty"),
        ("mediaconvert_transcode", {"bucket": "media-in"}, "no input: key is empty"),
        ("frameio_backup", {"asset_id": "   ", "destination_bucket": "backup-b"}, "asset_id is blank"),
    ],
)
def test_rules_across_keys_are_one_sentence_naming_the_keys(dag_id, conf, expected):
    problem = conf_problem(dag_id, conf)
    assert problem is not None and expected in problem, problem


@pytest.mark.parametrize(
    ("dag_id", "conf"),
    [
        ("s3_bulk_copy", {**SOURCE, "source_prefix": "[1]", "destination_prefix": "2024"}),
        ("s3_bulk_copy", {"manifest_uri": "s3://in-bucket/m.csv", "destination_bucket": "12345"}),
        ("video_segment_index", {"bucket": "12345", "key": "None", "output_key_prefix": "True/{video_name}"}),
        ("video_segment_index", {"bucket": "media-in", "prefix": ""}),
        ("mediaconvert_transcode", {"bucket": "2024", "key": "12345"}),
        ("frameio_backup", {"asset_id": "12345", "destination_bucket": "2024", "destination_prefix": "[1]"}),
        ("frameio_backup_scheduled", {}),
        ("mediaflow_healthcheck", {"buckets": ["2024"], "table_name": "None", "queue_names": ["True"]}),
    ],
)
def test_conf_that_can_work_passes_whatever_its_strings_look_like(dag_id, conf):
    assert conf_problem(dag_id, conf) is None


# -- key templates (video_segment_index) ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{video_name:>2000}", "formats a field ({video_name:>2000}); write the plain field {video_name}"),
        ("x/{video_name!r}", "formats a field ({video_name!r})"),
        ("{video_name.__class__}", "uses unknown field {video_name.__class__}"),
        ("{0}", "uses unknown field {0}"),
        ("a" * 300 + "/{video_name}/{video_name}", "makes segment keys of"),
    ],
)
def test_key_templates_that_cannot_work_are_refused_before_a_run(template, expected):
    conf = {"bucket": "media-in", "key": "uploads/" + "long name " * 30 + ".mp4", "output_key_prefix": template}
    problem = conf_problem("video_segment_index", conf)
    assert problem is not None and expected in problem, problem


def test_a_prefix_run_is_refused_when_even_the_shortest_name_overflows():
    conf = {"bucket": "media-in", "prefix": "p" * 700 + "/", "output_key_prefix": "{source_dir}/{source_dir}"}
    assert "S3 allows 1024" in conf_problem("video_segment_index", conf)
