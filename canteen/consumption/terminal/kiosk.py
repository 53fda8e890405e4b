"""The kiosk screen, served by the terminal itself so that it keeps working when the server is
unreachable: a full-screen page (kiosk.html) that receives each change over Server-Sent Events
(falling back to polling /state), and reports back when it has painted a change (/ack), which
is how frame-to-screen time is measured on the real screen, not estimated."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

PAGE = Path(__file__).with_name("kiosk.html")


class KioskState:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._state: dict[str, Any] = {"seq": 0, "kind": "idle"}
        self.window_name = ""
        # A standing notice over every screen (the sync paused: token refused), "" when none.
        self.notice = ""
        # seq → (frame captured at, shown at, kind): matched with the page's acks.
        self._pending: dict[int, tuple[float, float, str]] = {}
        # Per painted change: (kind, frame → show() called, show() → painted), the agent's share
        # and the page's; their sum is the frame-to-screen time.
        self.stages: deque[tuple[str, float, float]] = deque(maxlen=10_000)

    def show(self, kind: str, *, frame_ts: float | None = None, **fields: Any) -> int:
        with self._cond:
            seq = self._state["seq"] + 1
            now = time.time()
            self._state = {
                "seq": seq,
                "kind": kind,
                "window": self.window_name,
                "at": now,
                "notice": self.notice,
                **fields,
            }
            if frame_ts is not None:
                self._pending[seq] = (frame_ts, now, kind)
                if len(self._pending) > 1000:
                    self._pending.pop(min(self._pending))
            self._cond.notify_all()
            return seq

    def set_notice(self, text: str) -> None:
        """Put up (or take down) the standing notice; the screen shows it at once."""
        with self._cond:
            if text == self.notice:
                return
            self.notice = text
            self._state = {**self._state, "seq": self._state["seq"] + 1, "notice": text}
            self._cond.notify_all()

    def snapshot(self) -> dict[str, Any]:
        with self._cond:
            return dict(self._state)

    def wait_change(self, seq: int, timeout: float) -> dict[str, Any]:
        with self._cond:
            self._cond.wait_for(lambda: self._state["seq"] != seq, timeout=timeout)
            return dict(self._state)

    def ack(self, seq: int, painted_at: float) -> None:
        with self._cond:
            item = self._pending.pop(seq, None)
        if item is not None:
            frame_ts, shown_at, kind = item
            # Both clocks are the same machine's wall clock (the page sends Date.now()).
            self.stages.append((kind, shown_at - frame_ts, max(0.0, painted_at - shown_at)))


class _Handler(BaseHTTPRequestHandler):
    server: KioskServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature of the base class
        return

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        state = self.server.state
        if self.path in {"/", "/index.html"}:
            self._send(200, PAGE.read_bytes(), "text/html; charset=utf-8")
        elif self.path.startswith("/state"):
            self._send(200, json.dumps(state.snapshot(), ensure_ascii=False).encode(), "application/json")
        elif self.path.startswith("/events"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Connection", "keep-alive")
            self.end_headers()
            seq = -1
            try:
                while not self.server.stopping.is_set():
                    snap = state.wait_change(seq, timeout=15)
                    if snap["seq"] == seq:
                        self.wfile.write(b": keep-alive\n\n")
                    else:
                        seq = snap["seq"]
                        self.wfile.write(f"data: {json.dumps(snap, ensure_ascii=False)}\n\n".encode())
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                return
        elif self.path.startswith("/healthz"):
            self._send(200, b"ok", "text/plain")
        else:
            self._send(404, b"not found", "text/plain")

    def do_POST(self) -> None:  # noqa: N802
        if not self.path.startswith("/ack"):
            self._send(404, b"not found", "text/plain")
            return
        length = min(int(self.headers.get("Content-Length") or 0), 4096)
        try:
            data = json.loads(self.rfile.read(length) or b"{}")
            self.server.state.ack(int(data["seq"]), float(data["painted_at"]) / 1000.0)
        except (ValueError, KeyError, TypeError):
            self._send(400, b"bad ack", "text/plain")
            return
        self._send(204, b"", "text/plain")


class KioskServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, state: KioskState, host: str = "127.0.0.1", port: int = 8765) -> None:
        self.state = state
        self.stopping = threading.Event()
        super().__init__((host, port), _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="kiosk", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self.stopping.set()
        self.shutdown()
        self.server_close()
