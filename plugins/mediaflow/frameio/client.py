"""A small Frame.io REST client (v2 and v4) on a `requests` session, without Airflow.

The hook builds one from the `frameio_default` connection; tests and the benchmark can build
one directly. Retrying is urllib3's: throttling (429, honouring `Retry-After`), 5xx and
connection errors are retried by the `Retry` mounted on the session (see `session.py`). What
stays here is what urllib3 cannot know: a 401 drops the cached IMS token and the call is made
once more with a fresh one. Tokens only ever travel in the Authorization header: they are not
put in URLs, exceptions or log lines.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import requests
from urllib3.util.retry import Retry

from mediaflow.common.errors import InputError
from mediaflow.frameio.api import (
    FileEntry,
    FrameioAsset,
    key_from_segments,
    parse_v2_asset,
    parse_v4_item,
    safe_segment,
    v2_next_page,
    v4_next_cursor,
)
from mediaflow.frameio.session import RETRY_STATUSES, mount_retries, retried_on, retries_taken, retry_policy

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.frame.io"
DEFAULT_IMS_URL = "https://ims-na1.adobelogin.com/ims/token/v3"
DEFAULT_SCOPES = "openid,AdobeID,frame.s2s.all"
#: refresh an IMS token this long before it expires, so a long walk never sends a stale one
TOKEN_MARGIN = 60.0
#: the IMS token request is a client-credentials grant: safe to send again after a 429 or 5xx
RETRIED_METHODS = Retry.DEFAULT_ALLOWED_METHODS | {"POST"}


class FrameioError(RuntimeError):
    """A Frame.io API call failed; `status` is the HTTP status (None for a connection error).

    Raised as is for what may pass (throttling or 5xx that outlasted the retries, a refused
    token); see `FrameioInputError` for what cannot."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class FrameioInputError(FrameioError, InputError):
    """Frame.io refused the request itself (a 4xx other than 401, 408 and 429: no such asset, no
    permission, a bad request) or the connection lacks what the call needs: trying again
    cannot help, so the task fails at once."""


class _TokenCache:
    """IMS access tokens by (ims_url, client_id), shared by every client in the process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str, str], tuple[str, float]] = {}

    def get(self, key: tuple[str, str]) -> str | None:
        with self._lock:
            hit = self._tokens.get(key)
        if hit and hit[1] - TOKEN_MARGIN > time.monotonic():
            return hit[0]
        return None

    def put(self, key: tuple[str, str], token: str, expires_in: float) -> None:
        with self._lock:
            self._tokens[key] = (token, time.monotonic() + expires_in)

    def drop(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._tokens.pop(key, None)


TOKENS = _TokenCache()


@dataclass
class FrameioClient:
    base_url: str = DEFAULT_BASE_URL
    api_version: str = "v4"
    token: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    ims_url: str = DEFAULT_IMS_URL
    scopes: str = DEFAULT_SCOPES
    account_id: str | None = None
    #: retries per call of 429, 5xx and connection errors (urllib3's `Retry.total`)
    max_retries: int = 10
    #: urllib3's backoff factor: without a `Retry-After`, retry n waits about factor x 2**(n-1) s
    backoff_factor: float = 0.5
    timeout: float = 60.0
    page_size: int = 100
    pool_size: int = 16
    mask: Callable[[str], None] = lambda _secret: None
    session: requests.Session = field(default_factory=requests.Session)
    #: folders and version stacks looked up by `folder_path`, by id
    _parents: dict[str, FrameioAsset] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.base_url = (self.base_url or DEFAULT_BASE_URL).rstrip("/")
        if self.api_version not in ("v2", "v4"):
            raise InputError(f"api_version must be 'v4' or 'v2', got {self.api_version!r}")
        mount_retries(
            self.session, retry_policy(self.max_retries, self.backoff_factor, RETRIED_METHODS), self.pool_size
        )
        if self.token:
            self.mask(self.token)
        if self.client_secret:
            self.mask(self.client_secret)

    # -- auth ----------------------------------------------------------------------------------
    def _bearer(self) -> str:
        if self.api_version == "v2":
            if not self.token:
                raise FrameioInputError(
                    "Frame.io v2 needs a developer token: set `token` in the extra of the frameio_default connection"
                )
            return self.token
        if not (self.client_id and self.client_secret):
            raise FrameioInputError(
                "Frame.io v4 needs server-to-server client credentials: set the frameio_default connection's "
                "login (client id) and password (client secret); legacy developer tokens are refused by v4"
            )
        key = (self.ims_url, self.client_id)
        cached = TOKENS.get(key)
        if cached:
            return cached
        form = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "scope": self.scopes,
        }
        resp = self._send("POST", self.ims_url, "Adobe IMS token", data=form)
        _raise_if_transient(resp, "POST", "Adobe IMS token")
        if resp.status_code != 200:
            raise FrameioInputError(
                f"Adobe IMS refused the client credentials of client {self.client_id!r} "
                f"(HTTP {resp.status_code}); check the connection's login/password and the scopes",
                resp.status_code,
            )
        body = resp.json()
        token = body["access_token"]
        self.mask(token)
        TOKENS.put(key, token, float(body.get("expires_in", 3600)))
        return token

    def _drop_token(self) -> bool:
        """Forget the cached IMS token, so that the next call fetches a fresh one; False when
        there is no token to refresh (v2 developer tokens do not expire)."""
        if self.api_version != "v4" or not self.client_id:
            return False
        TOKENS.drop((self.ims_url, self.client_id))
        return True

    # -- requests ------------------------------------------------------------------------------
    def _send(self, method: str, url: str, what: str, **kwargs: Any) -> requests.Response:
        """One call through the retrying session; urllib3 has already retried what was transient."""
        try:
            resp = self.session.request(method, url, timeout=self.timeout, **kwargs)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise FrameioError(
                f"Frame.io {method} {what}: connection failed after {self.max_retries} retries: {type(exc).__name__}"
            ) from None
        if retries_taken(resp):
            log.info("Frame.io %s %s: HTTP %s after retries on %s", method, what, resp.status_code, retried_on(resp))
        return resp

    def request(self, method: str, path: str, params: dict[str, Any] | None = None) -> requests.Response:
        """Call the API; on a 401, once more with a fresh IMS token (the cached one was revoked)."""
        url = path if path.startswith("http") else f"{self.base_url}{path}"
        resp = self._send(method, url, path, params=params, headers=self._headers())
        if resp.status_code == 401 and self._drop_token():
            resp = self._send(method, url, path, params=params, headers=self._headers())
        _raise_if_transient(resp, method, path)
        status = resp.status_code
        if status >= 400:
            error = FrameioError if status == 401 else FrameioInputError
            raise error(f"Frame.io {method} {path}: HTTP {status}: {_detail(resp)}", status)
        return resp

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._bearer()}", "Accept": "application/json"}

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.request("GET", path, params).json()

    def _v4(self, path: str) -> str:
        if not self.account_id:
            raise FrameioInputError("Frame.io v4 needs an account_id: pass it in the conf or the connection extra")
        return f"/v4/accounts/{self.account_id}{path}"

    # -- assets --------------------------------------------------------------------------------
    def get_asset(self, asset_id: str, asset_type: str | None = None) -> FrameioAsset:
        """A file, folder, version stack, or a project's root folder (named after the project)."""
        if self.api_version == "v2":
            if asset_type == "project":
                project = self.get_json(f"/v2/projects/{asset_id}")
                root = parse_v2_asset(self.get_json(f"/v2/assets/{project['root_asset_id']}"))
                root.type, root.name = "folder", project.get("name") or root.name
                return root
            return parse_v2_asset(self.get_json(f"/v2/assets/{asset_id}"))
        if asset_type == "project":
            project = self.get_json(self._v4(f"/projects/{asset_id}"))["data"]
            root = parse_v4_item(self.get_json(self._v4(f"/folders/{project['root_folder_id']}"))["data"], "folder")
            root.name = project.get("name") or root.name
            return root
        kinds = [asset_type] if asset_type else ["file", "folder", "version_stack"]
        for kind in kinds:
            try:
                return self._v4_show(asset_id, kind)
            except FrameioError as exc:
                if exc.status != 404 or kind == kinds[-1]:
                    raise
        raise AssertionError("unreachable")

    def _v4_show(self, asset_id: str, kind: str) -> FrameioAsset:
        if kind == "file":
            body = self.get_json(self._v4(f"/files/{asset_id}"), {"include": "media_links.original"})
        else:
            body = self.get_json(self._v4(f"/{kind}s/{asset_id}"))
        return parse_v4_item(body["data"], kind)

    def children(self, parent: FrameioAsset) -> Iterator[FrameioAsset]:
        """Every child of a folder or version stack, across all pages."""
        if self.api_version == "v2":
            page = 1
            while page:
                resp = self.request(
                    "GET", f"/v2/assets/{parent.id}/children", {"page": page, "page_size": self.page_size}
                )
                for raw in resp.json():
                    yield parse_v2_asset(raw)
                page = v2_next_page(resp.headers, page)
            return
        path = self._v4(f"/{'version_stacks' if parent.type == 'version_stack' else 'folders'}/{parent.id}/children")
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"page_size": self.page_size}  # not carried by links.next
            if cursor:
                params["after"] = cursor
            body = self.get_json(path, params)
            for raw in body.get("data", []):
                yield parse_v4_item(raw, "file" if parent.type == "version_stack" else None)
            cursor = v4_next_cursor(body)
            if not cursor:
                return

    def folder_path(self, asset: FrameioAsset) -> str:
        """The folder path above `asset`, from its project's name down (`Project/Dailies/Day 1`);
        version stacks add no segment, as in a folder's backup. V4 only (v2: empty)."""
        if self.api_version != "v4" or not asset.parent_id:
            return ""
        segments: list[str] = []
        parent_id: str | None = asset.parent_id
        while parent_id:
            parent = self._parent(parent_id)
            if parent.parent_id is None:  # the project's root folder
                project = self.get_json(self._v4(f"/projects/{asset.project_id}"))["data"] if asset.project_id else {}
                segments.append(safe_segment(project.get("name") or parent.name))
                break
            if parent.type == "folder":
                segments.append(safe_segment(parent.name))
            parent_id = parent.parent_id
        return key_from_segments(*reversed(segments))

    def _parent(self, parent_id: str) -> FrameioAsset:
        """A folder or version stack above a file, each fetched once per client."""
        if parent_id not in self._parents:
            try:
                self._parents[parent_id] = self._v4_show(parent_id, "folder")
            except FrameioError as exc:
                if exc.status != 404:
                    raise
                self._parents[parent_id] = self._v4_show(parent_id, "version_stack")
        return self._parents[parent_id]

    def download_url(self, asset_id: str) -> str | None:
        """A fresh original download URL (they expire), or None when the original is not offered."""
        asset = self.get_asset(asset_id, "file")
        return asset.original


def _raise_if_transient(resp: requests.Response, method: str, what: str) -> None:
    """Throttling or a server error that outlasted urllib3's retries: may pass, so not input."""
    if resp.status_code in RETRY_STATUSES:
        raise FrameioError(
            f"Frame.io {method} {what}: HTTP {resp.status_code} after {retries_taken(resp)} retries; "
            "the API is throttling or failing, try again later",
            resp.status_code,
        )


def _detail(resp: requests.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:200]
    if isinstance(body, dict):
        errors = body.get("errors") or body.get("message") or body.get("detail")
        return str(errors)[:300]
    return str(body)[:200]


# -- resolution --------------------------------------------------------------------------------
@dataclass
class Resolution:
    """What a backup of one Frame.io asset covers: files to copy, and what was left out and why."""

    root: FrameioAsset
    files: list[FileEntry] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)


def resolve(
    client: FrameioClient,
    asset_id: str,
    asset_type: str | None = None,
    include_versions: bool = False,
    *,
    keep_path: bool = False,
) -> Resolution:
    """Walk a file, folder (recursively), version stack or project into files with their Frame.io path.

    A folder's own name starts the path, so `Dailies/Day 1/a.mov` stays recognizable in S3. With
    `keep_path` (an uploaded file) a file or stack also keeps the path of the folders above it,
    from the project's name down: the key a backup of the whole project gives it."""
    try:
        root = client.get_asset(asset_id, asset_type)
    except FrameioInputError as exc:
        raise FrameioInputError(
            f"Frame.io asset {asset_id} ({client.api_version}, asset_type {asset_type or 'not given'}) cannot be "
            f"read: {exc}. Check the id, asset_type and account_id, and that the connection may read it",
            exc.status,
        ) from None
    out = Resolution(root=root)
    seen: set[str] = set()
    pending: list[tuple[FrameioAsset, str]] = []
    if root.type == "folder":
        pending.append((root, safe_segment(root.name)))
    else:
        _visit(client, root, client.folder_path(root) if keep_path else "", include_versions, out)
    while pending:
        folder, path = pending.pop()
        if folder.id in seen:
            continue
        seen.add(folder.id)
        for child in client.children(folder):
            if child.type == "folder":
                pending.append((child, key_from_segments(path, safe_segment(child.name))))
            else:
                _visit(client, child, path, include_versions, out)
    return out


def _visit(client: FrameioClient, asset: FrameioAsset, path: str, include_versions: bool, out: Resolution) -> None:
    if asset.type == "version_stack":
        versions = list(client.children(asset))
        if not versions:
            out.skipped.append(_skip(asset, path, "version stack has no versions"))
            return
        # V4 numbers no versions: the oldest is v1 (v2 gives `index`, which agrees)
        versions.sort(key=lambda v: (v.version or 0, v.created_at, v.id))
        for position, version in enumerate(versions, start=1):
            version.version = version.version or position
        if include_versions:
            for version in versions:
                _add_file(version, key_from_segments(path, safe_segment(asset.name), f"v{version.version}"), out)
            return
        head = next((v for v in versions if v.id == asset.head_id), None) or versions[-1]
        _add_file(head, path, out)
        return
    _add_file(asset, path, out)


def _add_file(asset: FrameioAsset, path: str, out: Resolution) -> None:
    if not asset.uploaded:
        out.skipped.append(_skip(asset, path, "still uploading; run the backup again once the upload completes"))
        return
    out.files.append(
        FileEntry(
            asset_id=asset.id,
            name=asset.name,
            path=path,
            size=asset.size,
            xxh64=asset.xxh64,
            version=asset.version,
            created_at=asset.created_at,
        )
    )


def _skip(asset: FrameioAsset, path: str, reason: str) -> dict[str, str]:
    return {"asset_id": asset.id, "name": asset.name, "path": path, "reason": reason}
