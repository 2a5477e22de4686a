"""FrameioClient against the stand-in over HTTP: throttling, token caching, pagination."""

from __future__ import annotations

import pytest
import requests

from mediaflow.frameio.client import TOKENS, FrameioClient, FrameioError, resolve
from tests.frameio import test_frameio_backup_dag as test_frameio_backup

standin = test_frameio_backup.standin  # the stand-in fixture, shared with the DAG tests


def make_client(stack, version: str, **kw) -> FrameioClient:
    return FrameioClient(
        base_url=stack.frameio_url,
        api_version=version,
        token=stack.frameio_token,
        client_id=stack.frameio_client_id,
        client_secret=stack.frameio_client_secret,
        ims_url=f"{stack.frameio_url}/ims/token",
        account_id="standin-account",
        **kw,
    )


def seed_folder(url: str, files: int) -> dict:
    tree = [
        {"type": "folder", "name": "many", "children": [{"name": f"f{i:03d}.bin", "size": 10} for i in range(files)]}
    ]
    return requests.post(f"{url}/_control/seed", json={"tree": tree}, timeout=10).json()


def test_429_without_retry_after_backs_off_exponentially_from_one_second(local_stack, standin):
    delays: list[float] = []
    client = make_client(local_stack, "v2", sleep=delays.append)
    seeded = seed_folder(standin, 3)
    requests.post(f"{standin}/_control/faults", json={"throttle": 4}, timeout=5)
    assert client.get_asset(seeded["assets"][0]["id"]).name == "many"
    assert len(delays) == 4
    for n, delay in enumerate(delays):
        assert 2**n <= delay <= 2**n * 1.1


def test_429_honours_retry_after_and_gives_up_after_max_retries(local_stack, standin):
    delays: list[float] = []
    client = make_client(local_stack, "v2", sleep=delays.append, max_retries=3)
    seeded = seed_folder(standin, 1)
    requests.post(f"{standin}/_control/faults", json={"throttle": 2, "retry_after": "7"}, timeout=5)
    client.get_asset(seeded["assets"][0]["id"])
    assert delays == [7.0, 7.0]
    requests.post(f"{standin}/_control/faults", json={"throttle": 50, "retry_after": "0"}, timeout=5)
    with pytest.raises(FrameioError, match="HTTP 429 after 3 retries"):
        client.get_asset(seeded["assets"][0]["id"])


@pytest.mark.parametrize("version", ["v2", "v4"])
def test_pagination_walks_every_page_with_small_pages(local_stack, standin, version):
    seeded = seed_folder(standin, 23)
    client = make_client(local_stack, version, page_size=5)
    res = resolve(client, seeded["assets"][0]["id"], "folder")
    assert sorted(f.name for f in res.files) == [f"f{i:03d}.bin" for i in range(23)]
    pages = requests.get(f"{standin}/_control/stats", timeout=5).json()[f"{version}_pages"]
    assert pages == 5


def test_v4_token_is_cached_refreshed_on_401_and_never_in_errors(local_stack, standin):
    TOKENS.drop((f"{local_stack.frameio_url}/ims/token", local_stack.frameio_client_id))
    client = make_client(local_stack, "v4")
    seeded = seed_folder(standin, 2)
    folder = seeded["assets"][0]["id"]
    for _ in range(3):
        client.get_asset(folder, "folder")
    stats = requests.get(f"{standin}/_control/stats", timeout=5).json()
    assert stats["ims_tokens"] == 1
    requests.post(f"{standin}/_control/expire-tokens", timeout=5)
    client.get_asset(folder, "folder")  # 401, fresh token, retried
    assert requests.get(f"{standin}/_control/stats", timeout=5).json()["ims_tokens"] == 2
    with pytest.raises(FrameioError) as err:
        client.get_asset("no-such-file", "file")
    assert err.value.status == 404
    assert local_stack.frameio_client_secret not in str(err.value)


def test_v4_refuses_a_legacy_token_and_v2_needs_one(local_stack, standin):
    legacy_only = FrameioClient(
        base_url=local_stack.frameio_url, api_version="v4", token=local_stack.frameio_token, account_id="a"
    )
    with pytest.raises(FrameioError, match="client credentials"):
        legacy_only.get_asset("x", "file")
    v2 = FrameioClient(base_url=local_stack.frameio_url, api_version="v2", token="wrong-token")
    with pytest.raises(FrameioError) as err:
        v2.get_asset("x")
    assert err.value.status == 401
    assert "wrong-token" not in str(err.value)
