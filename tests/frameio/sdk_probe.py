"""Run inside the official Frame.io SDK's own virtual environment (not the project's): drive the
`frameio` SDK against a Frame.io API over HTTP, and build payloads from its pydantic models.

    python sdk_probe.py calls URL TOKEN ACCOUNT PROJECT   -> JSON of what every call returned
    python sdk_probe.py payloads                          -> JSON payloads built from the models

Every response is parsed twice: by the SDK call as a user's code would (its models accept
unknown shapes silently), and strictly, with pydantic validation of the raw JSON against the
model the SDK declares for it, so a missing required field or a wrong type fails here.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import types
import typing
from typing import Any

import pydantic
from frameio import Frameio
from frameio.types import (
    AccountsResponse,
    FileWithIncludes,
    FileWithIncludesResponse,
    FolderAssetsWithIncludesResponse,
    FolderResponse,
    ProjectResponse,
    VersionStackAssetsWithIncludesResponse,
    VersionStackResponse,
    VersionStackWithIncludes,
)
from frameio.types.asset_with_includes import AssetWithIncludes_File, AssetWithIncludes_Folder

PAGE = 2  # small pages, so every listing follows `links.next`


def strict(model: type[pydantic.BaseModel], parsed: pydantic.BaseModel) -> dict[str, Any]:
    """What the SDK parsed (leniently: its models are built without validation), dumped as it
    holds it and validated strictly against `model`: a missing required field or a value of the
    wrong type fails here. Returns the JSON."""
    raw = parsed.model_dump(mode="json", by_alias=True, exclude_unset=True, warnings=False)
    model.model_validate(raw)
    return raw


def walk(pager: Any, model: type[pydantic.BaseModel]) -> dict[str, Any]:
    """Every page of a listing through the SDK's pager; each page's raw JSON validated strictly."""
    items, pages = [], 0
    for page in pager.iter_pages():
        pages += 1
        strict(model, page.response)
        items.extend(item.model_dump(mode="json", by_alias=True) for item in page.items)
    return {"pages": pages, "items": items}


def calls(url: str, token: str, account: str, project_id: str) -> dict[str, Any]:
    client = Frameio(base_url=url, token=token)
    out: dict[str, Any] = {}
    out["accounts"] = walk(client.accounts.index(), AccountsResponse)
    project = strict(ProjectResponse, client.projects.with_raw_response.show(account, project_id).data)["data"]
    out["project"] = project
    root = client.folders.with_raw_response.show(account, project["root_folder_id"])
    out["root"] = strict(FolderResponse, root.data)["data"]
    out["root_children"] = walk(
        client.folders.index(account, project["root_folder_id"], page_size=PAGE, include="media_links.original"),
        FolderAssetsWithIncludesResponse,
    )
    folders = [i for i in out["root_children"]["items"] if i["type"] == "folder"]
    out["folder_children"] = {
        f["id"]: walk(client.folders.index(account, f["id"], page_size=PAGE), FolderAssetsWithIncludesResponse)
        for f in folders
    }
    stacks = [i for i in out["root_children"]["items"] if i["type"] == "version_stack"]
    out["stacks"] = {}
    for stack in stacks:
        shown = client.version_stacks.with_raw_response.show(account, stack["id"])
        out["stacks"][stack["id"]] = {
            "show": strict(VersionStackResponse, shown.data)["data"],
            "children": walk(
                client.version_stacks.index(account, stack["id"], page_size=PAGE, include="media_links.original"),
                VersionStackAssetsWithIncludesResponse,
            ),
        }
    files = [i for i in out["root_children"]["items"] if i["type"] == "file"]
    out["files"] = {}
    for item in files:
        shown = client.files.with_raw_response.show(account, item["id"], include="media_links.original")
        out["files"][item["id"]] = strict(FileWithIncludesResponse, shown.data)["data"]
    typed = client.files.show(account, files[0]["id"], include="media_links.original")
    out["typed_file"] = {
        "type": type(typed.data).__name__,
        "download_url": typed.data.media_links.original.download_url if typed.data.media_links else None,
    }
    return out


# -- payloads built from the models ------------------------------------------------------------
def sample(annotation: Any, name: str, full: bool) -> Any:
    """A value of `annotation`: the first choice of a union or literal, nested models filled."""
    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin is typing.Annotated:
        return sample(args[0], name, full)
    if origin in (typing.Union, types.UnionType):
        return sample(args[0], name, full)
    if origin is typing.Literal:
        return args[0]
    if origin in (list, typing.List):  # noqa: UP006 - the SDK's annotations use typing.List
        return [sample(args[0], name, full)] if full else []
    if origin in (dict, typing.Dict):  # noqa: UP006
        return {}
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return build(annotation, full)
    if annotation is dt.datetime:
        return "2025-01-02T03:04:05Z"
    if annotation is bool:
        return False
    if annotation is int:
        return 4096
    if annotation is float:
        return 1.5
    if "url" in name:
        return f"https://example.invalid/{name}"
    return f"{name}-value"


def build(model: type[pydantic.BaseModel], full: bool) -> dict[str, Any]:
    """A payload of `model`: required fields only, or every optional field too; validated."""
    payload: dict[str, Any] = {}
    for field_name, info in model.model_fields.items():
        if info.is_required() or full:
            key = info.alias or field_name
            payload[key] = sample(info.annotation, key, full)
    model.model_validate(payload)
    return payload


def payloads() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, model in {
        "file": FileWithIncludes,
        "listed_file": AssetWithIncludes_File,
        "folder": AssetWithIncludes_Folder,
        "version_stack": VersionStackWithIncludes,
    }.items():
        out[name] = {"minimal": build(model, False), "full": build(model, True)}
    # a file whose original is withheld (watermarking or no download permission): a null link
    withheld = build(FileWithIncludes, True)
    withheld["media_links"]["original"] = None
    FileWithIncludes.model_validate(withheld)
    out["file_withheld"] = withheld
    return out


if __name__ == "__main__":
    if sys.argv[1] == "calls":
        print(json.dumps(calls(*sys.argv[2:6])))
    else:
        print(json.dumps(payloads()))
