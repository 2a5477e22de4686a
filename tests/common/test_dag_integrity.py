"""Every DAG imports cleanly and carries what the UI form, operators and on-call need."""

from __future__ import annotations

import pytest

from tests.helpers import ROOT


@pytest.fixture(scope="module")
def dagbag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags"))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert len(dagbag.dags) >= 1


def test_every_dag_file_defines_a_dag(dagbag):
    files = {p.stem for p in (ROOT / "dags").glob("*.py") if not p.name.startswith("_")}
    assert files <= set(dagbag.dags), f"DAG files without a DAG of the same id: {files - set(dagbag.dags)}"


def test_dags_carry_tags_owner_docs_and_retries(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags, f"{dag_id} has no tags"
        assert dag.doc_md and len(dag.doc_md.strip()) > 80, f"{dag_id} has no real doc_md"
        for task in dag.tasks:
            assert task.owner and task.owner != "airflow", f"{dag_id}.{task.task_id} has no owner"
            assert task.retries >= 1, f"{dag_id}.{task.task_id} has no retries"


def test_every_param_has_a_json_schema_with_description(dagbag):
    from mediaflow.common.contracts import params_for

    for dag_id, dag in dagbag.dags.items():
        contract = params_for(dag_id)
        assert contract is not None, f"{dag_id} is not in mediaflow.common.contracts.CONTRACTS"
        assert set(dag.params) == set(contract), f"{dag_id} params differ from its contract"
        for key in dag.params:
            param = dag.params.get_param(key)
            schema = param.schema
            assert param.description, f"{dag_id}.{key} has no description"
            assert {"type", "anyOf", "enum"} & set(schema), f"{dag_id}.{key} has no JSON-schema type"


def test_every_dag_serializes(dagbag):
    """What the dag-processor stores and the API server reads: a bad Param schema fails here."""
    from airflow.serialization.serialized_objects import DagSerialization

    for dag_id, dag in dagbag.dags.items():
        data = DagSerialization.to_dict(dag)
        assert data["dag"]["dag_id"] == dag_id
