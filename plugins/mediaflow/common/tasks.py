"""Airflow-facing helpers every capability's operators share: failing fast on bad input (and on
bad conf, before a DAG's first task does anything), and the mapping limit that bounds one run's
fan-out."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from airflow.sdk import Context
from airflow.sdk.exceptions import AirflowFailException

from mediaflow.common.contracts import conf_problem
from mediaflow.common.errors import InputError
from mediaflow.common.params import is_event_run

DEFAULT_MAX_MAP_LENGTH = 1024


@contextmanager
def fail_fast() -> Iterator[None]:
    """Turn `InputError` into `AirflowFailException`: bad conf or input fails the task at its
    first try, with the message, instead of being retried."""
    try:
        yield
    except InputError as exc:
        raise AirflowFailException(str(exc)) from exc


def max_map_length() -> int:
    """`[core] max_map_length`: the most mapped task instances one upstream list may create."""
    from airflow.configuration import conf

    return conf.getint("core", "max_map_length", fallback=DEFAULT_MAX_MAP_LENGTH)


def check_fanout(count: int, what: str, fix: str) -> None:
    """Fail at once when `count` mapped tasks would exceed the mapping limit."""
    limit = max_map_length()
    if count > limit:
        raise AirflowFailException(
            f"{count} {what} in one run; at most {limit} can be mapped ([core] max_map_length). {fix}"
        )


def refuse_bad_conf(dag_id: str) -> Callable[[Context], None]:
    """A `pre_execute` hook for a DAG's first task: the API server's whole-conf check again.

    Runs that do not pass the API server (the CLI, `TriggerDagRunOperator`, schedules, a
    deployment without the plugin) meet the same rules here, and fail at the first try with the
    same sentence. Runs started by an upload event carry no conf by design and are left to the
    task, which reads the events."""

    def check(context: Context) -> None:
        if is_event_run(context):
            return
        params = context.get("params") or {}
        problem = conf_problem(dag_id, {key: params[key] for key in params})
        if problem:
            raise AirflowFailException(problem)

    return check
