"""The one error type for input that retrying cannot fix.

Pure modules raise `InputError` (or a subclass) for bad conf, a missing or unreadable object,
or a template that cannot work; the Airflow-facing side turns it into `AirflowFailException`
(see `mediaflow.common.tasks.fail_fast`), so the task fails at its first try with the message.
"""

from __future__ import annotations


class InputError(ValueError):
    """Bad conf or input: the message names the object or key and the fix."""
