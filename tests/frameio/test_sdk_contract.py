"""The official Frame.io V4 SDK (`frameio` on PyPI) is the judge of the V4 shapes.

1. The SDK, in its own virtual environment (`.venv-frameio-sdk`, created here on first use from
   the pinned `sdk-requirements.txt`: its pydantic-core pin clashes with Airflow's), is driven
   over HTTP against the stand-in for every V4 call mediaflow makes (project, folder and its
   children with cursors, version stack and its children, file with `media_links.original`)
   and the account listing a user's setup needs; every response must validate strictly
   against the model the SDK declares for it.
2. mediaflow's own parser reads payloads built from the SDK's models, with every optional field
   absent and with every one present.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from mediaflow.frameio.api import parse_v4_item
from mediaflow.frameio.client import FrameioClient, resolve
from tests.helpers import ROOT

HERE = Path(__file__).parent
REQUIREMENTS = HERE / "sdk-requirements.txt"
PROBE = HERE / "sdk_probe.py"
VENV = ROOT / ".venv-frameio-sdk"


@pytest.fixture(scope="session")
def sdk_python() -> str:
    """The SDK venv's interpreter; (re)built when the pinned requirements change."""
    python = VENV / "bin" / "python"
    stamp = VENV / f".installed-{hashlib.sha1(REQUIREMENTS.read_bytes()).hexdigest()[:12]}"  # noqa: S324 - a cache key
    if not stamp.exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
        done = subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "-r", str(REQUIREMENTS)],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, f"installing the Frame.io SDK from PyPI failed:\n{done.stderr[-2000:]}"
        stamp.touch()
    return str(python)


def probe(sdk_python: str, *args: str) -> dict:
    done = subprocess.run([sdk_python, str(PROBE), *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout)


TREE = [
    {"type": "file", "name": "a.mov", "size": 1500, "seed": 1},
    {"type": "file", "name": "b.wav", "size": 700, "seed": 2},
    {"type": "file", "name": "c.pdf", "size": 300, "seed": 3},
    {"type": "file", "name": "watermarked.mp4", "size": 200, "watermarked": True},
    {"type": "file", "name": "uploading.mov", "size": 100, "uploading": True},
    {
        "type": "folder",
        "name": "Dailies",
        "children": [{"type": "file", "name": f"clip{i}.mov", "size": 100 + i, "seed": 10 + i} for i in range(5)],
    },
    {
        "type": "version_stack",
        "name": "Cut",
        "versions": [{"name": f"cut_v{i}.mp4", "size": 200 + i, "seed": 20 + i} for i in range(3)],
    },
]


@pytest.fixture(scope="module")
def seeded(local_stack):
    url = local_stack.frameio_url
    seeded = requests.post(f"{url}/_control/seed", json={"name": "SDK contract", "tree": TREE}, timeout=10).json()
    form = {
        "grant_type": "client_credentials",
        "client_id": local_stack.frameio_client_id,
        "client_secret": local_stack.frameio_client_secret,
    }
    token = requests.post(f"{url}/ims/token", data=form, timeout=10).json()["access_token"]
    return url, token, seeded


def test_the_sdk_reads_every_v4_call_mediaflow_makes(sdk_python, seeded):
    url, token, tree = seeded
    out = probe(sdk_python, "calls", url, token, tree["account_id"], tree["project_id"])

    assert tree["account_id"] in {a["id"] for a in out["accounts"]["items"]}
    assert out["project"]["id"] == tree["project_id"] and out["project"]["name"] == "SDK contract"
    assert out["root"]["id"] == tree["root_id"] == out["project"]["root_folder_id"]

    # 7 children, the first page of 2: the SDK followed `links.next` (which, as V4 documents,
    # carries only the cursor, so the next page has the default size) to the end
    listing = out["root_children"]
    assert listing["pages"] == 2
    assert sorted(i["name"] for i in listing["items"]) == sorted(t["name"] for t in TREE)
    (dailies,) = out["folder_children"].values()
    assert dailies["pages"] == 2 and [i["name"] for i in dailies["items"]] == [f"clip{i}.mov" for i in range(5)]

    (stack,) = out["stacks"].values()
    assert stack["show"]["head_version"]["name"] == "cut_v2.mp4"
    assert [i["name"] for i in stack["children"]["items"]] == [f"cut_v{i}.mp4" for i in range(3)]

    by_name = {f["name"]: f for f in out["files"].values()}
    original = by_name["a.mov"]["media_links"]["original"]["download_url"]
    assert requests.get(original, timeout=10).content == requests.get(original, timeout=10).content
    assert len(requests.get(original, timeout=10).content) == 1500
    assert by_name["watermarked.mp4"]["media_links"]["original"] is None
    assert by_name["uploading.mov"]["status"] == "created"
    assert out["typed_file"]["type"] == "FileWithIncludes" and out["typed_file"]["download_url"]


def test_mediaflow_walks_what_the_sdk_walked(seeded, local_stack):
    """The same project through mediaflow's client: the files the SDK listed, the same sizes."""
    url, _token, tree = seeded
    client = FrameioClient(
        base_url=url,
        client_id=local_stack.frameio_client_id,
        client_secret=local_stack.frameio_client_secret,
        ims_url=f"{url}/ims/token",
        account_id=tree["account_id"],
        page_size=2,
    )
    res = resolve(client, tree["project_id"], "project")
    got = {f"{f.path}/{f.name}": f.size for f in res.files}
    assert got["SDK contract/a.mov"] == 1500
    assert got["SDK contract/cut_v2.mp4"] == 202  # the stack's head, where a folder backup puts it
    assert {f"SDK contract/Dailies/clip{i}.mov" for i in range(5)} <= set(got)
    assert [s["name"] for s in res.skipped] == ["uploading.mov"]


@pytest.fixture(scope="module")
def sdk_payloads(sdk_python) -> dict:
    return probe(sdk_python, "payloads")


@pytest.mark.parametrize("shape", ["minimal", "full"])
def test_files_built_from_sdk_models_parse(sdk_payloads, shape):
    for model in ("file", "listed_file"):
        raw = sdk_payloads[model][shape]
        asset = parse_v4_item(raw, "file")
        assert asset.id == raw["id"] and asset.name == raw["name"] and asset.size == raw["file_size"]
        assert asset.created_at == raw["created_at"]
        assert asset.xxh64 is None and asset.version is None  # V4 gives neither
        if shape == "minimal":
            assert asset.original is None  # no media_links at all
        else:
            assert asset.original == raw["media_links"]["original"]["download_url"]
        assert asset.uploaded is (raw["status"] in ("uploaded", "transcoded"))


def test_a_withheld_original_parses_as_no_original(sdk_payloads):
    asset = parse_v4_item(sdk_payloads["file_withheld"], "file")
    assert asset.original is None and asset.size == sdk_payloads["file_withheld"]["file_size"]


@pytest.mark.parametrize("shape", ["minimal", "full"])
def test_folders_and_stacks_built_from_sdk_models_parse(sdk_payloads, shape):
    folder = parse_v4_item(sdk_payloads["folder"][shape])
    assert (folder.type, folder.id, folder.name) == ("folder", sdk_payloads["folder"][shape]["id"], "name-value")
    raw = sdk_payloads["version_stack"][shape]
    stack = parse_v4_item(raw, "version_stack")
    assert stack.type == "version_stack"
    assert stack.head_id == ((raw.get("head_version") or {}).get("id"))
    assert stack.parent_id == raw.get("parent_id")
