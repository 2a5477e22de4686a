"""Airflow-facing helpers every capability's operators share: failing fast on bad input, and
the mapping limit that bounds one run's fan-out."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from airflow.sdk.exceptions import AirflowFailException

from mediaflow.common.errors import InputError

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
