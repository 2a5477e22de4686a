"""Reading conf values that arrive as text (form fields, Variables, connection extras, webhooks),
and the deployment's own conf defaults."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
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


#: JSON object {dag_id: {conf key: value}}: a deployment's own defaults for the trigger forms
#: (and for REST calls and schedules that leave a key out), read where the DAGs are parsed and
#: where the API server checks conf. The local stack sets it to its sample buckets; a
#: production deployment sets its own buckets or nothing, so it never defaults to demo data.
CONF_DEFAULTS_ENV = "MEDIAFLOW_CONF_DEFAULTS"


def deployment_defaults(dag_id: str, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """This deployment's conf defaults for `dag_id` from `MEDIAFLOW_CONF_DEFAULTS` (empty if unset)."""
    raw = (os.environ if environ is None else environ).get(CONF_DEFAULTS_ENV) or ""
    if not raw.strip():
        return {}
    try:
        defaults = json.loads(raw)
    except ValueError as exc:
        raise ValueError(f"{CONF_DEFAULTS_ENV} is not valid JSON ({exc}); it maps DAG ids to conf defaults") from None
    if not isinstance(defaults, dict) or not all(isinstance(v, dict) for v in defaults.values()):
        raise ValueError(f'{CONF_DEFAULTS_ENV} must be a JSON object like {{"s3_bulk_copy": {{"source_bucket": "b"}}}}')
    return dict(defaults.get(dag_id) or {})
