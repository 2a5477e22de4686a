"""Conf problems worded for people: one sentence per problem, naming the key and the fix.

Airflow checks each Param on its own and words a failure as the raw jsonschema error (the regex,
`schema[1]`, the whole sub-schema). The API-server guard and each DAG's first task check the same
schemas here instead, so the trigger form's red banner and a REST caller's 400 both say what to
change. A schema may carry `x-hint`, a phrase completing "must be ...", for patterns and formats
that a regex explains badly (bucket names, S3 URIs, ARNs).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from jsonschema import FormatChecker
from jsonschema.exceptions import ValidationError, best_match
from jsonschema.validators import validator_for

TYPE_WORDS = {
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "array": "a list",
    "object": "an object",
    "null": "empty",
}
#: the most problems one answer lists; the first ones are enough to start fixing
MAX_PROBLEMS = 5


def show(value: Any) -> str:
    """A value as the user typed it, shortened: JSON-ish, so "2024" and 2024 read differently."""
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def where(key: str, path: Iterable[Any]) -> str:
    """`routes`, [0, "bucket"] -> `routes[0].bucket`."""
    out = key
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _types(expected: Any) -> list[str]:
    return [expected] if isinstance(expected, str) else list(expected)


def describe(key: str, error: ValidationError) -> str:
    """One sentence for one jsonschema error."""
    at, value, rule, limit = where(key, error.absolute_path), error.instance, error.validator, error.validator_value
    hint = error.schema.get("x-hint") if isinstance(error.schema, dict) else None
    if rule == "type":
        expected = [t for t in _types(limit) if t != "null"]
        if value is None:
            return f"{at} is required."
        words = " or ".join(TYPE_WORDS.get(t, t) for t in expected)
        return f"{at} must be {words}, not {show(value)}."
    if rule == "enum":
        return f"{at} must be one of {', '.join(show(v) for v in limit)}; got {show(value)}."
    if rule in ("pattern", "format"):
        return f"{at} {show(value)} is not {hint or f'valid ({limit})'}."
    if rule in ("minimum", "exclusiveMinimum"):
        return f"{at} must be {'at least' if rule == 'minimum' else 'more than'} {limit}; got {show(value)}."
    if rule in ("maximum", "exclusiveMaximum"):
        return f"{at} must be {'at most' if rule == 'maximum' else 'less than'} {limit}; got {show(value)}."
    if rule == "minLength":
        if value == "":
            return f"{at} must not be empty."
        return f"{at} must be at least {limit} characters long; got {show(value)}."
    if rule == "maxLength":
        return f"{at} is {len(value)} characters long; at most {limit} are allowed."
    if rule == "minItems":
        return f"{at} needs at least {limit} item(s)."
    if rule == "maxItems":
        return f"{at} has {len(value)} items; at most {limit} are allowed."
    if rule == "required":
        missing = [name for name in limit if name not in value]
        return f"{at} is missing {', '.join(repr(m) for m in missing)}."
    if rule == "additionalProperties":
        allowed = sorted((error.schema.get("properties") or {}).keys())
        extra = sorted(set(value) - set(allowed))
        return f"{at} has unknown field(s) {', '.join(repr(e) for e in extra)}; allowed: {', '.join(allowed)}."
    if rule in ("anyOf", "oneOf") and error.context:
        return describe(key, best_match(error.context))
    return f"{at}: {error.message}."


def schema_problems(key: str, value: Any, schema: Mapping[str, Any]) -> list[str]:
    """Every way `value` breaks `schema`, worded for people (empty when it fits)."""
    validator = validator_for(schema)(schema, format_checker=FormatChecker())
    errors = sorted(validator.iter_errors(value), key=lambda e: (list(map(str, e.absolute_path)), str(e.validator)))
    return [describe(key, e) for e in errors]


def check_values(params: Mapping[str, Any], conf: Mapping[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """Check each key of the conf a run would get (the Params' defaults with `conf` over them).

    `params` maps keys to objects with `schema` and `value` (Airflow's `Param`); a Param with no
    default that `conf` leaves out is reported as required. Returns (problems, effective conf).
    """
    problems: list[str] = []
    effective: dict[str, Any] = {}
    for key, param in params.items():
        if key in conf:
            value = conf[key]
        elif _has_default(param):
            value = param.value
        else:
            problems.append(f"{key} is required: {_first_sentence(param)}")
            continue
        effective[key] = value
        if value is None and "null" not in _types(param.schema.get("type", "null")):
            problems.append(f"{key} is required: {_first_sentence(param)}")
            continue
        problems += schema_problems(key, value, param.schema)
    return problems, effective


def _has_default(param: Any) -> bool:
    value = getattr(param, "value", None)
    return value is None or isinstance(value, str | int | float | bool | list | dict)


def _first_sentence(param: Any) -> str:
    text = (getattr(param, "schema", {}) or {}).get("description") or getattr(param, "description", "") or ""
    first = text.split(". ")[0].rstrip(".")
    return first + "." if first else "give a value."


def sentence(dag_id: str, problems: list[str]) -> str:
    """The answer for a refused conf: the DAG, then its first few problems."""
    shown = problems[:MAX_PROBLEMS]
    more = len(problems) - len(shown)
    tail = f" ({more} more problem(s) after these are fixed.)" if more > 0 else ""
    return f"{dag_id}: " + " ".join(shown) + tail
