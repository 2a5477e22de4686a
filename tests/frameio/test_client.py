"""FrameioClient against the stand-in over HTTP: throttling and connection errors retried by
urllib3, input errors not retried, token caching and re-authentication, pagination."""

from __future__ import annotations

import socket

import pytest
import requests

from mediaflow.common.errors import InputError
from mediaflow.frameio.client import TOKENS, FrameioClient, FrameioError, FrameioInputError, resolve
from tests.frameio import test_frameio_backup_dag as test_frameio_backup
from tests.frameio.test_frameio_backup_dag import faults, stats

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


def test_429s_without_retry_after_are_retried_until_the_answer(local_stack, standin):
    client = make_client(local_stack, "v2", backoff_factor=0.05)
    seeded = seed_folder(standin, 3)
    faults(standin, throttle=4)
    assert client.get_asset(seeded["assets"][0]["id"]).name == "many"
    counters = stats(standin)
    assert counters["throttled"] == 4
    assert counters["api_requests"] == 5  # four 429s, then the answer


def test_429_honours_retry_after_and_gives_up_after_max_retries(local_stack, standin):
    client = make_client(local_stack, "v2", max_retries=3, backoff_factor=0.05)
    seeded = seed_folder(standin, 1)
    faults(standin, throttle=2, retry_after="1")
    assert client.get_asset(seeded["assets"][0]["id"]).id == seeded["assets"][0]["id"]
    assert (stats(standin)["throttled"], stats(standin)["api_requests"]) == (2, 3)
    faults(standin, throttle=1, retry_after="soon")  # unreadable: backed off as if absent
    client.get_asset(seeded["assets"][0]["id"])
    assert stats(standin)["throttled"] == 3
    faults(standin, throttle=50, retry_after="0")
    with pytest.raises(FrameioError, match="HTTP 429 after 3 retries") as err:
        client.get_asset(seeded["assets"][0]["id"])
    assert not isinstance(err.value, InputError)  # throttling may pass: Airflow's retries get their turn
    assert stats(standin)["throttled"] == 3 + 4  # the first try and three retries


def test_connection_errors_are_retried_then_reported_without_secrets(local_stack):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = FrameioClient(
        base_url=f"http://127.0.0.1:{port}", api_version="v2", token=local_stack.frameio_token, max_retries=2
    )
    with pytest.raises(FrameioError, match="connection failed after 2 retries") as err:
        client.get_asset("x")
    assert err.value.status is None and not isinstance(err.value, InputError)
    assert local_stack.frameio_token not in str(err.value)


@pytest.mark.parametrize("version", ["v2", "v4"])
def test_a_wrong_asset_id_is_input_error_naming_it(local_stack, standin, version):
    missing = "00000000-0000-0000-0000-00000000abcd"
    with pytest.raises(FrameioInputError, match=f"Frame.io asset {missing} .*HTTP 404") as err:
        resolve(make_client(local_stack, version), missing)
    assert err.value.status == 404
    assert stats(standin)["api_requests"] == (1 if version == "v2" else 3)  # v4 tries file, folder, stack; no retry


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
    assert stats(standin)["ims_tokens"] == 1
    requests.post(f"{standin}/_control/expire-tokens", timeout=5)
    client.get_asset(folder, "folder")  # 401, fresh token, retried
    assert stats(standin)["ims_tokens"] == 2
    assert stats(standin)["api_requests"] == 3 + 2  # the 401 and its one retry
    with pytest.raises(FrameioError) as err:
        client.get_asset("no-such-file", "file")
    assert err.value.status == 404
    assert local_stack.frameio_client_secret not in str(err.value)


def test_v4_refuses_a_legacy_token_and_v2_needs_one(local_stack, standin):
    legacy_only = FrameioClient(
        base_url=local_stack.frameio_url, api_version="v4", token=local_stack.frameio_token, account_id="a"
    )
    with pytest.raises(FrameioInputError, match="client credentials"):  # bad conf: fails at the first try
        legacy_only.get_asset("x", "file")
    v2 = FrameioClient(base_url=local_stack.frameio_url, api_version="v2", token="wrong-token")
    with pytest.raises(FrameioError) as err:
        v2.get_asset("x")
    assert err.value.status == 401
    assert "wrong-token" not in str(err.value)
