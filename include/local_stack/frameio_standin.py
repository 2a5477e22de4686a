"""A local STAND-IN for the Frame.io API (not Frame.io): enough of v2 and v4 for tests and
`make demo` to exercise the backup DAG over real HTTP.

Serves: `/v2/assets/{id}`, `/v2/assets/{id}/children` (page-number pagination in headers),
`/v2/projects/{id}`; `GET /v4/accounts`, `/v4/accounts/{a}/files|folders|version_stacks|projects/{id}`
and `.../children` (cursor pagination in `links.next`), `POST .../workspaces/{w}/webhooks` and
`.../actions` (the secret is returned once, at creation), in the shapes of the official V4 SDK's
models (tests/frameio/test_sdk_contract.py drives the SDK against it); an IMS-like
`POST /ims/token` (client credentials); signed originals under `/originals/{token}` with Range
support and expiry; 429 injection; 5xx answers and short reads on chosen ranges; watermarked
assets without an original; `GET /healthz`.

Webhooks: when a file finishes uploading (`/_control/upload`, `/_control/complete`) the stand-in
POSTs `file.upload.completed` and then `file.ready` to every subscribed URL, signed with that
webhook's secret as Frame.io signs them, retrying a non-2xx answer like Frame.io does; every
delivery is kept (`/_control/deliveries`) and can be sent again (`/_control/redeliver`).

Control endpoints for tests (`/_control/...`) seed trees, inject faults and report counters.
A demo project labelled as a stand-in is seeded at start.

Run: `python -m include.local_stack.frameio_standin --host 127.0.0.1 --port N` with
FRAMEIO_STANDIN_TOKEN (v2 developer token), FRAMEIO_STANDIN_CLIENT_ID and
FRAMEIO_STANDIN_CLIENT_SECRET (v4 client credentials) in the environment.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import mimetypes
import os
import random
import re
import secrets
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import requests
import xxhash

DEMO_ACCOUNT = "standin-account"
DEMO_WORKSPACE = "standin-workspace"
#: Frame.io delivers an event at most five times (the first try and four retries)
WEBHOOK_ATTEMPTS = 5
DEMO_PROJECT_NAME = "Stand-in demo project (local Frame.io stand-in, not Frame.io)"
RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


@dataclass
class Node:
    id: str
    type: str  # file | folder | version_stack
    name: str
    parent_id: str | None
    project_id: str
    account_id: str
    created_at: str
    content: bytes = b""
    children: list[str] = field(default_factory=list)
    uploading: bool = False
    watermarked: bool = False
    bad_checksum: bool = False
    no_range: bool = False
    index: int | None = None  # position in a version stack (0-based)


@dataclass
class Original:
    asset_id: str
    expires_at: float
    uses: int = 0


class State:
    def __init__(self, token: str, client_id: str, client_secret: str) -> None:
        self.lock = threading.RLock()
        self.token, self.client_id, self.client_secret = token, client_id, client_secret
        self.nodes: dict[str, Node] = {}
        self.projects: dict[str, dict[str, Any]] = {}
        self.ims_tokens: dict[str, float] = {}
        self.originals: dict[str, Original] = {}
        self.stats: Counter[str] = Counter()
        #: webhook subscriptions `{id, url, events, secret, account_id, workspace_id}` and Actions
        self.webhooks: list[dict[str, Any]] = []
        self.actions: list[dict[str, Any]] = []
        #: every webhook delivery: `{url, type, file_id, body, statuses}`
        self.deliveries: list[dict[str, Any]] = []
        self.reset_faults()
        self.clock = 0

    def reset_faults(self) -> None:
        with self.lock:
            self.faults: dict[str, Any] = {
                "throttle": 0,  # next N API requests answer 429
                "retry_after": None,  # Retry-After header value on those 429s (None: header absent)
                "url_ttl": 3600.0,  # seconds an original URL stays valid
                "url_max_uses": None,  # GETs an original URL serves before it answers 403
                "token_ttl": 3600,  # IMS access token lifetime
                "fail_ranges": [],  # [{"asset_id", "start", "times"}]: answer 500 to that range
                "short_ranges": [],  # [{"asset_id", "start", "times"}]: send half that range, then hang up
                "no_range": False,  # serve every original without Range support
            }

    # -- seeding ---------------------------------------------------------------------------------
    def stamp(self) -> str:
        self.clock += 1
        return (datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=self.clock)).isoformat()

    def seed(self, spec: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            account = spec.get("account_id", DEMO_ACCOUNT)
            project_id = spec.get("project_id") or str(uuid.uuid4())
            root = Node(str(uuid.uuid4()), "folder", "root", None, project_id, account, self.stamp())
            self.nodes[root.id] = root
            name = spec.get("name", "Stand-in project")
            self.projects[project_id] = {
                "id": project_id,
                "name": name,
                "root": root.id,
                "account_id": account,
                "workspace_id": spec.get("workspace_id", DEMO_WORKSPACE),
                "created_at": root.created_at,
            }
            listing: list[dict[str, Any]] = []
            for item in spec.get("tree", []):
                self._add(item, root, "", listing)
            return {"project_id": project_id, "root_id": root.id, "account_id": account, "assets": listing}

    def add(self, parent_id: str, tree: list[dict[str, Any]]) -> dict[str, Any]:
        """Add items under an existing folder (a new upload between two scheduled backups)."""
        with self.lock:
            parent = self.nodes[parent_id]
            listing: list[dict[str, Any]] = []
            for item in tree:
                self._add(item, parent, "", listing)
            return {"assets": listing}

    def _add(self, item: dict[str, Any], parent: Node, path: str, listing: list[dict[str, Any]]) -> Node:
        kind = item.get("type", "file")
        node = Node(
            str(uuid.uuid4()),
            kind,
            item["name"],
            parent.id,
            parent.project_id,
            parent.account_id,
            self.stamp(),
            uploading=bool(item.get("uploading")),
            watermarked=bool(item.get("watermarked")),
            bad_checksum=bool(item.get("bad_checksum")),
            no_range=bool(item.get("no_range")),
        )
        if kind == "file":
            if "content" in item:
                node.content = item["content"].encode()
            elif "content_b64" in item:
                node.content = base64.b64decode(item["content_b64"])
            else:
                node.content = _content(item.get("seed", node.id), int(item.get("size", 1024)))
        self.nodes[node.id] = node
        parent.children.append(node.id)
        full = f"{path}/{node.name}" if path else node.name
        listing.append({"id": node.id, "type": kind, "name": node.name, "path": full, "size": len(node.content)})
        if kind == "folder":
            for child in item.get("children", []):
                self._add(child, node, full, listing)
        elif kind == "version_stack":
            for i, version in enumerate(item.get("versions", [])):
                child = self._add({**version, "type": "file"}, node, full, listing)
                child.index = i
        return node

    # -- views -----------------------------------------------------------------------------------
    def xxh64(self, node: Node) -> str:
        digest = xxhash.xxh64(node.content).hexdigest()
        return "0" * 16 if node.bad_checksum else digest

    def original_url(self, base: str, node: Node) -> str | None:
        if node.type != "file" or node.watermarked or node.uploading:
            return None
        token = secrets.token_urlsafe(18)
        with self.lock:
            self.originals[token] = Original(node.id, time.time() + float(self.faults["url_ttl"]))
        return f"{base}/originals/{token}?{urlencode({'filename': node.name})}"

    def head_of(self, stack: Node) -> Node | None:
        return self.nodes[stack.children[-1]] if stack.children else None

    def v2(self, node: Node, base: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": node.id,
            "type": node.type,
            "name": node.name,
            "project_id": node.project_id,
            "parent_id": node.parent_id,
            "inserted_at": node.created_at,
        }
        if node.type == "file":
            out.update(
                filesize=len(node.content),
                original=self.original_url(base, node),
                checksums=None if node.uploading else {"xx_hash": self.xxh64(node)},
                upload_completed_at=None if node.uploading else node.created_at,
                index=node.index,
            )
        elif node.type == "version_stack":
            head = self.head_of(node)
            out["cover_asset_id"] = head.id if head else None
        return out

    def v4(self, node: Node, base: str, include_original: bool) -> dict[str, Any]:
        """A V4 file, folder or version stack as the SDK's models define it (`FileWithIncludes`,
        `Folder`, `VersionStack`): no checksum, no version number; `status` is `created` until
        the upload completes; `media_links` only when asked for with `include`."""
        out: dict[str, Any] = {
            "id": node.id,
            "type": node.type,
            "name": node.name,
            "project_id": node.project_id,
            "parent_id": node.parent_id,
            "created_at": node.created_at,
            "updated_at": node.created_at,
            "view_url": f"{base}/view/{node.id}",
        }
        if node.type == "file":
            out.update(
                file_size=len(node.content),
                status="created" if node.uploading else "transcoded",
                media_type=None
                if node.uploading
                else (mimetypes.guess_type(node.name)[0] or "application/octet-stream"),
            )
            if include_original:
                url = self.original_url(base, node)
                out["media_links"] = {"original": {"download_url": url, "inline_url": url} if url else None}
        elif node.type == "folder":
            out["restricted"] = False
        elif node.type == "version_stack":
            head = self.head_of(node)
            out["head_version"] = self.v4(head, base, include_original) if head else None
        return out

    def v4_project(self, project: dict[str, Any], base: str) -> dict[str, Any]:
        return {
            "id": project["id"],
            "name": project["name"],
            "root_folder_id": project["root"],
            "workspace_id": project["workspace_id"],
            "created_at": project["created_at"],
            "updated_at": project["created_at"],
            "status": "active",
            "storage": sum(len(n.content) for n in self.nodes.values() if n.project_id == project["id"]),
            "view_url": f"{base}/project/{project['id']}",
            "restricted": False,
        }

    def v4_accounts(self) -> list[dict[str, Any]]:
        ids = sorted({p["account_id"] for p in self.projects.values()} | {DEMO_ACCOUNT})
        stamp = datetime(2024, 1, 1, tzinfo=UTC).isoformat()
        return [
            {
                "id": account,
                "display_name": f"{account} (Frame.io stand-in)",
                "created_at": stamp,
                "updated_at": stamp,
                "roles": ["owner"],
                "storage_usage": 0,
            }
            for account in ids
        ]

    # -- uploads and webhooks --------------------------------------------------------------------
    def subscribe(self, account: str, workspace: str, data: dict[str, Any], secret: str | None = None) -> dict:
        """A webhook subscription; its secret is returned here and never again (as in V4)."""
        stamp = self.stamp()
        hook = {
            "id": str(uuid.uuid4()),
            "name": str(data.get("name") or "webhook"),
            "url": str(data["url"]),
            "events": list(data.get("events") or []),
            "secret": secret or secrets.token_hex(24),
            "account_id": account,
            "workspace_id": workspace,
            "active": True,
            "created_at": stamp,
            "updated_at": stamp,
        }
        with self.lock:  # one subscription per URL: subscribing again replaces it
            self.webhooks = [h for h in self.webhooks if h["url"] != hook["url"]] + [hook]
        return hook

    def complete_upload(self, node: Node) -> None:
        """The upload of `node` finished: announce it, then (transcoding done) that it is ready."""
        with self.lock:
            node.uploading = False
        self.emit("file.upload.completed", node)
        self.emit("file.ready", node)

    def emit(self, kind: str, node: Node) -> None:
        project = self.projects.get(node.project_id, {})
        body = {
            "account": {"id": node.account_id},
            "project": {"id": node.project_id},
            "resource": {"id": node.id, "type": "file"},
            "type": kind,
            "user": {"id": "standin-user"},
            "workspace": {"id": project.get("workspace_id", DEMO_WORKSPACE)},
        }
        with self.lock:
            hooks = [
                h for h in self.webhooks if h["active"] and kind in h["events"] and h["account_id"] == node.account_id
            ]
        for hook in hooks:
            delivery = {"url": hook["url"], "type": kind, "file_id": node.id, "body": body, "statuses": []}
            with self.lock:
                self.deliveries.append(delivery)
            self.deliver(hook, delivery)

    def deliver(self, hook: dict[str, Any], delivery: dict[str, Any], *, signature: str = "good") -> None:
        """POST one event, signed with the hook's secret, as Frame.io does: retried while the
        receiver answers non-2xx, at most `WEBHOOK_ATTEMPTS` times (backoff shortened)."""
        raw = json.dumps(delivery["body"]).encode()
        for attempt in range(WEBHOOK_ATTEMPTS):
            stamp = int(time.time()) - (600 if signature == "stale" else 0)
            secret = hook["secret"] if signature != "bad" else "not-" + hook["secret"]
            digest = hmac.new(secret.encode(), b"v0:%d:" % stamp + raw, hashlib.sha256).hexdigest()
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "Frame.io V4 API",
                "X-Frameio-Request-Timestamp": str(stamp),
                "X-Frameio-Signature": f"v0={digest}",
            }
            try:
                status = requests.post(hook["url"], data=raw, headers=headers, timeout=10).status_code
            except requests.RequestException as exc:
                status = type(exc).__name__
            with self.lock:
                delivery["statuses"].append(status)
                self.stats["webhook_deliveries"] += 1
            if isinstance(status, int) and 200 <= status < 300 or signature != "good":
                return
            time.sleep(min(0.2 * 2**attempt, 2.0))


def _take(faults: list[dict[str, Any]], asset_id: str, start: int) -> bool:
    """Use up one injection of a per-range fault aimed at this asset and range start."""
    for fault in faults:
        if fault["asset_id"] == asset_id and int(fault["start"]) == start and fault.get("times", 1) > 0:
            fault["times"] = fault.get("times", 1) - 1
            return True
    return False


def _content(seed: Any, size: int) -> bytes:
    """Deterministic pseudo-random bytes (in 1 MiB steps: `randbytes` refuses > 256 MiB at once)."""
    rng, step = random.Random(seed), 1024 * 1024
    return b"".join(rng.randbytes(min(step, size - i)) for i in range(0, size, step))


class Handler(BaseHTTPRequestHandler):
    server_version = "FrameioStandIn/1.0"
    protocol_version = "HTTP/1.1"
    state: State

    def log_message(self, fmt: str, *args: Any) -> None:  # quiet: the tests read the counters instead
        return

    # -- plumbing --------------------------------------------------------------------------------
    @property
    def base(self) -> str:
        return f"http://{self.headers.get('Host')}"

    def _send(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        payload = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(payload)

    def _error(self, status: int, detail: str) -> None:
        self._send(status, {"errors": [{"status": status, "detail": detail}]})

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _bearer(self) -> str:
        auth = self.headers.get("Authorization", "")
        return auth[7:] if auth.startswith("Bearer ") else ""

    def _throttled(self) -> bool:
        st = self.state
        with st.lock:
            if st.faults["throttle"] <= 0:
                return False
            st.faults["throttle"] -= 1
            st.stats["throttled"] += 1
            retry_after = st.faults["retry_after"]
        headers = {"x-ratelimit-limit": "10", "x-ratelimit-remaining": "0", "x-ratelimit-window": "1000"}
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        self._send(429, {"errors": [{"status": 429, "detail": "rate limited (stand-in)"}]}, headers)
        return True

    # -- routes ----------------------------------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        url = urlparse(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        path = url.path.rstrip("/")
        st = self.state
        if path == "/healthz":
            self._send(200, {"status": "ok", "service": "frameio-standin"})
            return
        if path.startswith("/_control/"):
            self._control_get(path)
            return
        if path.startswith("/originals/"):
            self._original(path.split("/", 2)[2])
            return
        st.stats["api_requests"] += 1
        if path.startswith("/v2/"):
            if self._bearer() != st.token or not st.token:
                self._error(401, "invalid developer token")
                return
            if not self._throttled():
                self._v2(path, query)
            return
        if path.startswith("/v4/"):
            if self._v4_authorized() and not self._throttled():
                self._v4(path, query)
            return
        self._error(404, f"no route {path}")

    def _v4_authorized(self) -> bool:
        token = self._bearer()
        if token and token == self.state.token:
            self._error(401, "legacy developer tokens are not accepted by v4; use an IMS access token")
            return False
        if self.state.ims_tokens.get(token, 0) < time.time():
            self._error(401, "missing or expired access token")
            return False
        return True

    def do_POST(self) -> None:  # noqa: N802
        path = urlparse(self.path).path.rstrip("/")
        body = self._body()
        st = self.state
        if path.startswith("/v4/"):
            st.stats["api_requests"] += 1
            if self._v4_authorized() and not self._throttled():
                self._v4_create(path, body)
            return
        if path in ("/ims/token", "/ims/token/v3"):
            form = {k: v[-1] for k, v in parse_qs(body.decode()).items()}
            ok = (
                form.get("grant_type") == "client_credentials"
                and secrets.compare_digest(form.get("client_id", ""), st.client_id)
                and secrets.compare_digest(form.get("client_secret", ""), st.client_secret)
            )
            if not ok:
                self._send(401, {"error": "invalid_client"})
                return
            token = secrets.token_urlsafe(24)
            ttl = int(st.faults["token_ttl"])
            with st.lock:
                st.ims_tokens[token] = time.time() + ttl
                st.stats["ims_tokens"] += 1
            self._send(200, {"access_token": token, "token_type": "bearer", "expires_in": ttl})
            return
        if path.startswith("/_control/"):
            data = json.loads(body or b"{}")
            if path == "/_control/seed":
                self._send(200, st.seed(data))
            elif path == "/_control/add":
                if data.get("parent_id") not in st.nodes:
                    self._error(404, "parent not found")
                    return
                self._send(200, st.add(data["parent_id"], data.get("tree", [])))
            elif path == "/_control/faults":
                with st.lock:
                    unknown = set(data) - set(st.faults)
                    if unknown:
                        self._error(400, f"unknown fault(s): {sorted(unknown)}")
                        return
                    st.faults.update(data)
                self._send(200, st.faults)
            elif path == "/_control/reset":
                st.reset_faults()
                with st.lock:
                    st.stats.clear()
                self._send(200, {"ok": True})
            elif path == "/_control/webhooks":  # subscribe with a secret the caller chose
                hook = st.subscribe(
                    data.get("account_id", DEMO_ACCOUNT),
                    data.get("workspace_id", DEMO_WORKSPACE),
                    data,
                    data.get("secret"),
                )
                self._send(200, {"id": hook["id"]})
            elif path == "/_control/upload":  # files that upload into a folder, then complete
                if data.get("parent_id") not in st.nodes:
                    self._error(404, "parent not found")
                    return
                tree = [{**item, "uploading": True} for item in data.get("tree", [])]
                listing = st.add(data["parent_id"], tree)["assets"]
                for item in listing:
                    if item["type"] == "file":
                        st.complete_upload(st.nodes[item["id"]])
                self._send(200, {"assets": listing})
            elif path == "/_control/complete":
                node = st.nodes.get(data.get("asset_id"))
                if node is None or node.type != "file":
                    self._error(404, "file not found")
                    return
                st.complete_upload(node)
                self._send(200, {"ok": True})
            elif path == "/_control/redeliver":  # send a delivery again: a replay, or badly signed
                delivery = st.deliveries[int(data["delivery"])]
                hook = next(h for h in st.webhooks if h["url"] == delivery["url"])
                again = {**delivery, "statuses": []}
                st.deliver(hook, again, signature=data.get("signature", "good"))
                self._send(200, {"statuses": again["statuses"]})
            elif path == "/_control/expire-tokens":
                with st.lock:
                    st.ims_tokens.clear()
                self._send(200, {"ok": True})
            else:
                self._error(404, f"no control route {path}")
            return
        self._error(404, f"no route {path}")

    def _control_get(self, path: str) -> None:
        st = self.state
        if path == "/_control/stats":
            self._send(200, dict(st.stats))
        elif path == "/_control/deliveries":
            with st.lock:
                self._send(200, [dict(d) for d in st.deliveries])
        elif path == "/_control/demo":
            demo = next((p for p in st.projects.values() if p["name"] == DEMO_PROJECT_NAME), None)
            self._send(200 if demo else 404, demo or {"detail": "no demo project"})
        else:
            self._error(404, f"no control route {path}")

    # -- v2 ----------------------------------------------------------------------------------------
    def _v2(self, path: str, query: dict[str, str]) -> None:
        st = self.state
        parts = path.split("/")[2:]
        if len(parts) == 2 and parts[0] == "projects":
            project = st.projects.get(parts[1])
            if not project:
                self._error(404, "project not found")
                return
            self._send(200, {"id": project["id"], "name": project["name"], "root_asset_id": project["root"]})
            return
        if parts[:1] != ["assets"] or len(parts) not in (2, 3):
            self._error(404, f"no route {path}")
            return
        node = st.nodes.get(parts[1])
        if node is None:
            self._error(404, "asset not found")
            return
        if len(parts) == 2:
            self._send(200, st.v2(node, self.base))
            return
        page = max(1, int(query.get("page", 1)))
        size = max(1, min(int(query.get("page_size", 50)), 100))
        kids = [st.nodes[c] for c in node.children]
        total_pages = max(1, -(-len(kids) // size))
        chunk = kids[(page - 1) * size : page * size]
        st.stats["v2_pages"] += 1
        headers = {
            "page-number": str(page),
            "per-page": str(size),
            "total": str(len(kids)),
            "total-pages": str(total_pages),
        }
        self._send(200, [st.v2(n, self.base) for n in chunk], headers)

    # -- v4 ----------------------------------------------------------------------------------------
    def _v4(self, path: str, query: dict[str, str]) -> None:
        st = self.state
        parts = path.split("/")[2:]  # accounts, {a}, kind, {id}, [children]
        if parts == ["accounts"]:
            self._send(200, {"data": st.v4_accounts(), "links": {"next": None}, "total_count": len(st.v4_accounts())})
            return
        if len(parts) < 4 or parts[0] != "accounts":
            self._error(404, f"no route {path}")
            return
        account, kind, ident = parts[1], parts[2], parts[3]
        if kind == "projects" and len(parts) == 4:
            project = st.projects.get(ident)
            if not project or project["account_id"] != account:
                self._error(404, "project not found")
                return
            self._send(200, {"data": st.v4_project(project, self.base)})
            return
        expected = {"files": "file", "folders": "folder", "version_stacks": "version_stack"}.get(kind)
        node = st.nodes.get(ident)
        if expected is None or node is None or node.type != expected or node.account_id != account:
            self._error(404, f"{kind[:-1]} not found")
            return
        include_original = "media_links.original" in query.get("include", "")
        if len(parts) == 4:
            self._send(200, {"data": st.v4(node, self.base, include_original)})
            return
        if parts[4] != "children" or kind == "files":
            self._error(404, f"no route {path}")
            return
        size = max(1, min(int(query.get("page_size", 50)), 100))
        offset = int(base64.urlsafe_b64decode(query["after"]).decode()) if query.get("after") else 0
        kids = [st.nodes[c] for c in node.children]
        chunk = kids[offset : offset + size]
        st.stats["v4_pages"] += 1
        nxt = None
        if offset + size < len(kids):
            cursor = base64.urlsafe_b64encode(str(offset + size).encode()).decode()
            nxt = f"/v4/accounts/{account}/{kind}/{ident}/children?{urlencode({'after': cursor})}"
        self._send(200, {"data": [st.v4(n, self.base, include_original) for n in chunk], "links": {"next": nxt}})

    def _v4_create(self, path: str, body: bytes) -> None:
        """`POST /v4/accounts/{a}/workspaces/{w}/webhooks|actions`: the created object with its
        signing secret, which V4 shows only in this answer."""
        st = self.state
        parts = path.split("/")[2:]
        if (
            len(parts) != 5
            or parts[0] != "accounts"
            or parts[2] != "workspaces"
            or parts[4] not in ("webhooks", "actions")
        ):
            self._error(404, f"no route {path}")
            return
        try:
            data = json.loads(body or b"{}")["data"]
            assert isinstance(data["url"], str) and isinstance(data["name"], str)
        except (ValueError, KeyError, TypeError, AssertionError):
            self._error(422, 'body must be {"data": {"name", "url", ...}}')
            return
        account, workspace = parts[1], parts[3]
        if parts[4] == "webhooks":
            hook = st.subscribe(account, workspace, data)
            self._send(201, {"data": {k: v for k, v in hook.items() if k != "account_id"}})
            return
        stamp = st.stamp()
        action = {
            "id": str(uuid.uuid4()),
            "name": data["name"],
            "description": str(data.get("description") or ""),
            "event": str(data.get("event") or ""),
            "url": data["url"],
            "workspace_id": workspace,
            "creator_id": "standin-user",
            "active": True,
            "multi_asset": bool(data.get("multi_asset", False)),
            "timeout": data.get("timeout"),
            "created_at": stamp,
            "updated_at": stamp,
            "secret": secrets.token_hex(24),
        }
        with st.lock:
            st.actions.append(action)
        self._send(201, {"data": action})

    # -- originals ---------------------------------------------------------------------------------
    def _original(self, token: str) -> None:
        st = self.state
        with st.lock:
            original = st.originals.get(token)
            if original is not None:
                original.uses += 1
                max_uses = st.faults["url_max_uses"]
                expired = original.expires_at < time.time() or (max_uses is not None and original.uses > max_uses)
            st.stats["original_gets"] += 1
        if original is None or expired:
            st.stats["original_403"] += 1
            self._send(403, {"detail": "Request has expired"})
            return
        node = st.nodes[original.asset_id]
        data = node.content
        header = self.headers.get("Range")
        if header and not (node.no_range or st.faults["no_range"]):
            match = RANGE.match(header.strip())
            if not match or (match.group(1) == "" and match.group(2) == ""):
                self._send(416, {"detail": "bad range"})
                return
            if match.group(1) == "":
                start, end = max(0, len(data) - int(match.group(2))), len(data) - 1
            else:
                start = int(match.group(1))
                end = min(int(match.group(2)) if match.group(2) else len(data) - 1, len(data) - 1)
            if start >= len(data) or start > end:
                self._send(416, {"detail": "range not satisfiable"}, {"Content-Range": f"bytes */{len(data)}"})
                return
            with st.lock:
                failed = _take(st.faults["fail_ranges"], node.id, start)
                short = not failed and _take(st.faults["short_ranges"], node.id, start)
                st.stats["range_failures"] += failed
                st.stats["short_reads"] += short
            if failed:
                self._send(500, {"detail": "injected failure (stand-in)"})
                return
            if short:  # the promised Content-Length, half the bytes, then the connection closes
                self.close_connection = True
                self._stream(206, data, start, end, {"Content-Range": f"bytes {start}-{end}/{len(data)}"}, cut=True)
                return
            st.stats["range_gets"] += 1
            self._stream(206, data, start, end, {"Content-Range": f"bytes {start}-{end}/{len(data)}"})
            return
        self._stream(200, data, 0, len(data) - 1, {})

    def _stream(
        self, status: int, data: bytes, start: int, end: int, headers: dict[str, str], cut: bool = False
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(max(0, end - start + 1)))
        self.send_header("Accept-Ranges", "bytes")
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        view = memoryview(data)
        pos = start
        if cut:
            end = start + (end - start) // 2
        try:
            while pos <= end:
                self.wfile.write(view[pos : min(pos + 1024 * 1024, end + 1)])
                pos += 1024 * 1024
        except (BrokenPipeError, ConnectionResetError):
            pass


def seed_demo(state: State) -> dict[str, Any]:
    """A small demo project: nested folders, two files with one name, a version stack, and
    one asset of each kind the backup must report instead of copying."""
    return state.seed(
        {
            "name": DEMO_PROJECT_NAME,
            "account_id": DEMO_ACCOUNT,
            "tree": [
                {
                    "type": "file",
                    "name": "README-standin.txt",
                    "content": "This project lives in the local Frame.io stand-in.\n",
                },
                {
                    "type": "folder",
                    "name": "Dailies",
                    "children": [
                        {
                            "type": "folder",
                            "name": "Day 1",
                            "children": [
                                {"type": "file", "name": "A001_C001.mov", "size": 300_000, "seed": 1},
                                {"type": "file", "name": "A001_C001.mov", "size": 200_000, "seed": 2},
                            ],
                        },
                        {"type": "file", "name": "sound_report.pdf", "size": 50_000, "seed": 3},
                        {"type": "file", "name": "still_uploading.mov", "size": 10_000, "uploading": True},
                    ],
                },
                {
                    "type": "version_stack",
                    "name": "Edit",
                    "versions": [
                        {"name": "edit_v1.mp4", "size": 120_000, "seed": 4},
                        {"name": "edit_v2.mp4", "size": 130_000, "seed": 5},
                    ],
                },
                {"type": "file", "name": "client_review_watermarked.mp4", "size": 20_000, "watermarked": True},
            ],
        }
    )


def make_server(host: str, port: int, token: str, client_id: str, client_secret: str) -> ThreadingHTTPServer:
    state = State(token, client_id, client_secret)
    seed_demo(state)
    handler = type("BoundHandler", (Handler,), {"state": state})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Local Frame.io stand-in (not Frame.io)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args(argv)
    server = make_server(
        args.host,
        args.port,
        os.environ.get("FRAMEIO_STANDIN_TOKEN", ""),
        os.environ.get("FRAMEIO_STANDIN_CLIENT_ID", "mediaflow-local"),
        os.environ.get("FRAMEIO_STANDIN_CLIENT_SECRET", ""),
    )
    print(f"Frame.io stand-in (not Frame.io) on http://{args.host}:{args.port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
