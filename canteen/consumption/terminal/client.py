"""HTTP client for the checkout server, on the standard library (urllib): the terminal needs a
handful of JSON calls and one binary download, and one dependency fewer on a window device is
one thing fewer to patch. Keep-alive matters for latency, so one http.client connection is kept
per thread and reopened on failure."""

from __future__ import annotations

import http.client
import json
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


class Offline(Exception):
    """The server could not be reached or did not answer properly (network, timeout, 5xx).
    `sent` is False only when the request certainly never left (the connection was refused)."""

    def __init__(self, message: str, *, sent: bool = True) -> None:
        super().__init__(message)
        self.sent = sent


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str]
    raw: bytes = b""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def error_code(self) -> str:
        if isinstance(self.body, dict):
            return str((self.body.get("error") or {}).get("code", ""))
        return ""

    @property
    def message_zh(self) -> str:
        if isinstance(self.body, dict):
            return str((self.body.get("error") or {}).get("message_zh", ""))
        return ""


# Each kind of request waits its own time (seconds). A checkout is a pupil standing at the
# window: after `timeout` (3 s by default) the terminal serves offline. A download of the
# gallery or roster may take long on a slow line; the small calls of the sync sit between.
DOWNLOAD_TIMEOUT = 30.0
SYNC_TIMEOUT = 5.0


class ServerClient:
    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 3.0,
        sync_timeout: float = SYNC_TIMEOUT,
        download_timeout: float = DOWNLOAD_TIMEOUT,
    ) -> None:
        parts = urlsplit(base_url.rstrip("/"))
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError(f"not a server URL: {base_url!r}")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.prefix = parts.path.rstrip("/")
        self.token = token
        self.timeout = timeout  # the checkout's
        self.sync_timeout = max(sync_timeout, timeout)
        self.download_timeout = max(download_timeout, timeout)
        self._local = threading.local()

    def _conn(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            cls = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
            conn = cls(self.host, self.port, timeout=self.timeout)
            self._local.conn = conn
        return conn

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
        self._local.conn = None

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> Reply:
        data = json.dumps(body).encode() if body is not None else None
        hdrs = {"Authorization": f"Terminal {self.token}", "Accept": "application/json", "Accept-Language": "zh-hans"}
        if data is not None:
            hdrs["Content-Type"] = "application/json"
        hdrs.update(headers or {})
        # Every request sets its own timeout on the kept-alive connection: a download's 30 s
        # must not stay on the socket for the checkout that follows it (a pupil once waited
        # 30.1 s for the offline fallback).
        wait = self.timeout if timeout is None else timeout
        # A kept-alive connection the server closed meanwhile fails on first use: retry once on
        # a fresh one. Safe for POSTs too: they all carry an Idempotency-Key.
        sent = False
        for attempt in (1, 2):
            conn = self._conn()
            try:
                conn.timeout = wait  # the connect of a new connection
                if conn.sock is None:
                    conn.connect()
                else:
                    conn.sock.settimeout(wait)
                sent = True
                conn.request(method, self.prefix + path, body=data, headers=hdrs)
                resp = conn.getresponse()
                raw = resp.read()
                reply_headers = {k.lower(): v for k, v in resp.getheaders()}
                if resp.getheader("Connection", "").lower() == "close":
                    self._drop()
            except (OSError, http.client.HTTPException) as exc:
                self._drop()
                if attempt == 2 or isinstance(exc, TimeoutError):
                    raise Offline(f"{type(exc).__name__}: {exc}", sent=sent) from exc
                continue
            if resp.status >= 500:
                raise Offline(f"server error {resp.status}")
            content_type = reply_headers.get("content-type", "")
            parsed: Any = None
            if "json" in content_type and raw:
                try:
                    parsed = json.loads(raw)
                except ValueError as exc:
                    raise Offline("malformed JSON from server") from exc
            return Reply(resp.status, parsed, reply_headers, raw)
        raise Offline("unreachable", sent=sent)

    # -- the calls the terminal makes ---------------------------------------------------

    def me(self, *, gallery_version: str = "") -> Reply:
        return self.request(
            "GET",
            "/api/v1/consumption/terminal/me/",
            headers={"X-Gallery-Version": gallery_version},
            timeout=self.sync_timeout,
        )

    def gallery(self, *, have_version: str = "") -> Reply:
        headers = {"If-None-Match": f'"{have_version}"'} if have_version else {}
        return self.request(
            "GET", "/api/v1/consumption/terminal/gallery/", headers=headers, timeout=self.download_timeout
        )

    def roster(self) -> Reply:
        return self.request("GET", "/api/v1/consumption/terminal/roster/", timeout=self.download_timeout)

    def checkout(self, *, key: str, body: dict, served_offline: bool = False, syncing: bool = False) -> Reply:
        """A checkout at the window (the checkout's timeout), or one sent again by the sync."""
        payload = dict(body)
        if served_offline:
            payload["served_offline"] = True
        return self.request(
            "POST",
            "/api/v1/consumption/checkouts/",
            body=payload,
            headers={"Idempotency-Key": key},
            timeout=self.sync_timeout if syncing else self.timeout,
        )

    def record_by_key(self, key: str) -> Reply:
        from urllib.parse import quote

        return self.request(
            "GET", f"/api/v1/consumption/checkouts/by-key/{quote(key, safe='')}/", timeout=self.sync_timeout
        )

    def void(self, *, record_id: str, key: str, reason: str) -> Reply:
        return self.request(
            "POST",
            f"/api/v1/consumption/checkouts/{record_id}/void/",
            body={"reason": reason},
            headers={"Idempotency-Key": key},
            timeout=self.sync_timeout,
        )
