"""MediaConvert's REST-JSON wire format, driven by botocore's service model.

On the wire every member uses its `locationName` (`settings`, `outputGroups`, `nameModifier`);
botocore maps them to the PascalCase names boto3 users write. The local service does the same
mapping in reverse, from the model, so the two can never drift apart.
"""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def model():
    import botocore.session

    return botocore.session.get_session().get_service_model("mediaconvert")


def _wire_name(name: str, member) -> str:
    return member.serialization.get("name", name)


def from_wire(shape, data: Any) -> Any:
    """A request body (wire names) -> botocore parameter names; unknown members are kept as
    they are so that validation reports them."""
    if shape is None or data is None:
        return data
    kind = shape.type_name
    if kind == "structure" and isinstance(data, dict):
        by_wire = {
            _wire_name(n, m): (n, m) for n, m in shape.members.items() if m.serialization.get("location") is None
        }
        out = {}
        for key, value in data.items():
            if key in by_wire:
                name, member = by_wire[key]
                out[name] = from_wire(member, value)
            else:
                out[key] = value
        return out
    if kind == "list" and isinstance(data, list):
        return [from_wire(shape.member, v) for v in data]
    if kind == "map" and isinstance(data, dict):
        return {k: from_wire(shape.value, v) for k, v in data.items()}
    return data


def to_wire(shape, data: Any) -> Any:
    """Internal values (botocore names) -> a response body with wire names."""
    if shape is None or data is None:
        return data
    kind = shape.type_name
    if kind == "structure" and isinstance(data, dict):
        out = {}
        for name, value in data.items():
            member = shape.members.get(name)
            if member is None or member.serialization.get("location") is not None:
                continue
            out[_wire_name(name, member)] = to_wire(member, value)
        return out
    if kind == "list" and isinstance(data, list):
        return [to_wire(shape.member, v) for v in data]
    if kind == "map" and isinstance(data, dict):
        return {k: to_wire(shape.value, v) for k, v in data.items()}
    if kind == "timestamp" and isinstance(data, int | float):
        return data
    return data
