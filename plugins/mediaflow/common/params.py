"""JSON-schema Params in the shapes the Airflow 3 trigger form turns into the right widgets,
and `ParamValue`, which hands operators the value a user gave with its type intact.

The form picks a widget from the schema's `type` (its first non-null entry), so every builder
here states `type` and never `anyOf` (from `anyOf` the form infers nothing and shows a text box
that sends text, which the schema then refuses):

- `"string"` -> text box. Emptying it sends null, so optional text accepts null.
- `["integer", "null"]` -> number box that sends a number, and null when emptied: an optional
  number ("no limit").
- `"boolean"` -> toggle; a `"string"` with `enum` -> dropdown (with null among the options when
  optional; `values_display` labels them).
- `["array", "null"]` of strings -> one item per line; of objects -> a JSON editor.
- `"format": "date-time"` -> a date and time picker.

A `type` without "null" marks the field required when the form opens. Each builder takes a
title and a description, so every field is labelled and explained; `x-hint` words a pattern
for the error messages of `mediaflow.common.conf_check`.
"""

from __future__ import annotations

import copy
from typing import Any

from airflow.sdk import Context
from airflow.sdk import Param as _Param

from mediaflow.common.conf import CONF_DEFAULTS_ENV, deployment_defaults
from mediaflow.common.conf_check import schema_problems

#: S3 bucket naming rules (3-63 chars, lowercase letters, digits, dots and hyphens).
BUCKET_PATTERN = r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$"
BUCKET_HINT = "an S3 bucket name (3 to 63 lowercase letters, digits, dots and hyphens)"
S3_URI_PATTERN = r"^s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9](/.*)?$"
#: S3 keys are at most 1,024 bytes; a prefix is part of a key
MAX_KEY_LENGTH = 1024
BUCKET_RULES = {"pattern": BUCKET_PATTERN, "x-hint": BUCKET_HINT}


def Param(  # noqa: N802 - Airflow's name, on purpose
    default: Any, *, title: str, description: str, section: str | None = None, **schema: Any
) -> _Param:
    """`airflow.sdk.Param` with the title and description every mediaflow field carries."""
    if section:
        schema["section"] = section
    return _Param(default, title=title, description=description, **schema)


def _type(kind: str, required: bool) -> str | list[str]:
    return kind if required else [kind, "null"]


def text(
    title: str, description: str, default: Any = None, *, required: bool = False, section: str | None = None, **rules
) -> _Param:
    """A text box (null allowed unless `required`)."""
    return Param(
        default, title=title, description=description, section=section, type=_type("string", required), **rules
    )


def bucket(
    title: str, description: str, default: Any = None, *, required: bool = False, section: str | None = None
) -> _Param:
    return text(title, description, default, required=required, section=section, **BUCKET_RULES)


def prefix(title: str, description: str, default: Any = "", *, section: str | None = None) -> _Param:
    """A key prefix; empty (or null, which an emptied form field sends) means the bucket's root."""
    return text(title, description, default, section=section, maxLength=MAX_KEY_LENGTH)


def s3_uri(title: str, description: str, default: Any = None, *, section: str | None = None) -> _Param:
    return text(
        title,
        description,
        default,
        section=section,
        pattern=S3_URI_PATTERN,
        maxLength=MAX_KEY_LENGTH + 70,
        **{"x-hint": "an S3 URI like s3://bucket/path/file.csv"},
    )


def boolean(title: str, description: str, default: bool, *, section: str | None = None) -> _Param:
    return Param(default, title=title, description=description, section=section, type="boolean")


def integer(
    title: str,
    description: str,
    default: Any,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    required: bool = True,
    section: str | None = None,
) -> _Param:
    """A number box; `required=False` lets it stay empty (null: no limit)."""
    bounds = {k: v for k, v in (("minimum", minimum), ("maximum", maximum)) if v is not None}
    return Param(
        default, title=title, description=description, section=section, type=_type("integer", required), **bounds
    )


def choice(
    title: str,
    description: str,
    default: Any,
    options: list[str],
    *,
    labels: dict[str, str] | None = None,
    required: bool = True,
    section: str | None = None,
) -> _Param:
    """A dropdown; optional ones list null first (shown as `labels["null"]`)."""
    schema: dict[str, Any] = {"type": _type("string", required), "enum": options if required else [None, *options]}
    if labels:
        schema["values_display"] = labels
    return Param(default, title=title, description=description, section=section, **schema)


def string_list(
    title: str,
    description: str,
    default: Any = None,
    *,
    items: dict[str, Any] | None = None,
    required: bool = False,
    section: str | None = None,
    **rules: Any,
) -> _Param:
    """A list of strings, one per line in the form."""
    item_schema = {"type": "string", **(items or {})}
    return Param(
        default,
        title=title,
        description=description,
        section=section,
        type=_type("array", required),
        items=item_schema,
        **rules,
    )


def object_list(
    title: str, description: str, item: dict[str, Any], default: Any = None, *, section: str | None = None, **rules
) -> _Param:
    """A list of objects, edited as JSON in the form."""
    return Param(
        default, title=title, description=description, section=section, type=["array", "null"], items=item, **rules
    )


def with_deployment_defaults(dag_id: str, params: dict[str, _Param], environ: Any = None) -> dict[str, _Param]:
    """`params` with this deployment's defaults (`MEDIAFLOW_CONF_DEFAULTS`) in place of the
    contract's, each checked against its schema, so that a deployment's form opens ready for its
    own buckets and a bad setting fails where the DAG is parsed, naming the key."""
    overrides = deployment_defaults(dag_id, environ)
    out = dict(params)
    for key, value in overrides.items():
        if key not in params:
            raise ValueError(
                f"{CONF_DEFAULTS_ENV}: {dag_id} has no conf key {key!r}; its keys are {', '.join(sorted(params))}"
            )
        problems = schema_problems(key, value, params[key].schema)
        if problems:
            raise ValueError(f"{CONF_DEFAULTS_ENV} for {dag_id}: {' '.join(problems)}")
        out[key] = _Param(value, schema=copy.deepcopy(params[key].schema), description=params[key].description)
    return out


class ParamValue:
    """The value of Param `name` in the running DAG run, exactly as it was given.

    Why: a template string such as "{{ params.prefix }}" renders to text, and with
    `render_template_as_native_obj` Airflow then reads that text as a Python literal, so the
    prefix "2024" arrived as the int 2024 and "[1]" as a list. Operators get this object in their
    template fields instead; when Airflow renders a field it calls `resolve(context)` on any value
    that has one (as it does for XComArgs), which returns the run's value from `context["params"]`:
    already checked against the Param's schema, and of the JSON type the user sent. DAGs keep
    Airflow's default non-native rendering, so every other template stays text too.
    """

    def __init__(self, name: str, *, in_event_runs: bool = True) -> None:
        self.name = name
        self.in_event_runs = in_event_runs

    def resolve(self, context: Context) -> Any:
        if not self.in_event_runs and is_event_run(context):
            return None  # the event names the object; a deployment's form default must not
        return copy.deepcopy(context["params"][self.name])

    def __repr__(self) -> str:
        # what the UI shows for the field before a run renders it; stable across parses
        return "{{ params.%s }}" % self.name  # noqa: UP031 - braces would need doubling


def is_event_run(context: Context) -> bool:
    """True in a run an asset event started (an upload watcher), whose conf is empty by design."""
    run_type = getattr(context.get("dag_run"), "run_type", None)
    return getattr(run_type, "value", run_type) == "asset_triggered"


def param_values(*names: str) -> dict[str, ParamValue]:
    """`{name: ParamValue(name)}` for passing several Params to an operator as keyword arguments."""
    return {name: ParamValue(name) for name in names}
