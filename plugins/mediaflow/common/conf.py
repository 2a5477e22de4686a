"""Reading conf values that arrive as text: form fields, Variables, connection extras, webhooks."""

from __future__ import annotations

from typing import Any

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off", ""})


def to_bool(value: Any, default: bool = False) -> bool:
    """True/False from a bool or the words people type for one; None (and "") give `default`.

    Anything else is refused rather than guessed: `"maybe"` is a typo to report, not False."""
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return bool(value)
    text = str(value).strip().lower()
    if text == "":
        return default
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    from mediaflow.common.errors import InputError

    raise InputError(f"{value!r} is not a yes/no value; use true or false")
