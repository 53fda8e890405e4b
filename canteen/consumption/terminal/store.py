"""The terminal's durable state: one SQLite file in WAL mode with synchronous=FULL, so a
committed row survives SIGKILL and power loss (the commit returns after fsync).

Every checkout is written here *before* the request leaves, with its idempotency key and the
exact body that will be sent; retries (after a timeout, a crash, a reboot) resend the same
bytes under the same key, so the server charges at most once and the terminal forgets nothing.

States of a checkout row:

    pending    written, request in flight (or the process died with it in flight)
    retry      found pending at start-up: resend as is
    offline    the server was unreachable and the meal was served within the offline limits:
               sync with served_offline
    abandoned  the server was unreachable and the meal was refused locally: if the request did
               reach the server after all, void it there. A "not found" closes the row only
               when the request never left (`sent` = 0) or can no longer be running on the
               server (older than its expiry plus the server's request deadline)
    done       the server answered with a record (or confirmed there is none to void)
    rejected   the server refused it (insufficient balance, already served, ...): nothing charged
    failed     an offline-served meal the server could not record (e.g. no session then):
               kept for the canteen manager, never retried automatically
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS checkouts (
    key TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    student_id TEXT NOT NULL DEFAULT '',
    amount_fen INTEGER NOT NULL DEFAULT 0,
    served_on TEXT NOT NULL DEFAULT '',
    session_kind TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    response TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    synced_at REAL,
    sent INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS checkouts_state ON checkouts(state, created_at);
CREATE INDEX IF NOT EXISTS checkouts_student ON checkouts(student_id, served_on);
CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v BLOB NOT NULL);
"""

TO_SYNC = ("retry", "offline", "abandoned")
_SELECT = (
    "SELECT key, body, student_id, amount_fen, served_on, session_kind, state, attempts, last_error,"
    " response, created_at, sent FROM checkouts "
)


@dataclass
class Row:
    key: str
    body: dict
    student_id: str
    amount_fen: int
    served_on: str
    session_kind: str
    state: str
    attempts: int
    last_error: str
    response: dict | None
    created_at: float
    # 0 when the request certainly never left the terminal (refused before any byte was sent).
    sent: int = 1


class Store:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # One connection shared by the capture and sync threads, serialized by a lock: SQLite
        # connections are not safe to use from two threads at once.
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        columns = {r[1] for r in self._db.execute("PRAGMA table_info(checkouts)")}
        if "sent" not in columns:  # a queue written by an older terminal version
            self._db.execute("ALTER TABLE checkouts ADD COLUMN sent INTEGER NOT NULL DEFAULT 1")
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _write(self, sql: str, params: tuple = ()) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(sql, params)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _rows(self, sql: str, params: tuple = ()) -> list[Row]:
        with self._lock:
            query = _SELECT + sql  # `sql` is one of this module's fixed clauses
            cur = self._db.execute(query, params)
            raw = cur.fetchall()
        return [
            Row(
                r[0],
                json.loads(r[1]),
                r[2],
                r[3],
                r[4],
                r[5],
                r[6],
                r[7],
                r[8],
                json.loads(r[9]) if r[9] else None,
                r[10],
                r[11],
            )
            for r in raw
        ]

    # -- checkouts ----------------------------------------------------------------------

    def add(self, *, key: str, body: dict, student_id: str, amount_fen: int, served_on: str, session_kind: str) -> None:
        self._write(
            "INSERT INTO checkouts (key, body, student_id, amount_fen, served_on, session_kind, state, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, 'pending', ?)",
            (key, json.dumps(body, sort_keys=True), student_id, amount_fen, served_on, session_kind, time.time()),
        )

    def set_state(
        self,
        key: str,
        state: str,
        *,
        response: Any = None,
        error: str = "",
        synced: bool = False,
        sent: bool | None = None,
    ) -> None:
        self._write(
            "UPDATE checkouts SET state = ?, response = CASE WHEN ? = '' THEN response ELSE ? END,"
            " last_error = ?, attempts = attempts + 1, synced_at = CASE WHEN ? THEN ? ELSE synced_at END,"
            " sent = COALESCE(?, sent) WHERE key = ?",
            (
                state,
                "" if response is None else "x",
                "" if response is None else json.dumps(response),
                error[:500],
                1 if synced else 0,
                time.time(),
                None if sent is None else int(sent),
                key,
            ),
        )

    def note_error(self, key: str, error: str) -> None:
        self._write("UPDATE checkouts SET attempts = attempts + 1, last_error = ? WHERE key = ?", (error[:500], key))

    def recover(self) -> int:
        """At start-up: a row still pending was in flight when the process died. Its request may
        or may not have reached the server; resending the same key settles it either way."""
        with self._lock:
            cur = self._db.execute("UPDATE checkouts SET state = 'retry' WHERE state = 'pending'")
            return cur.rowcount

    def to_sync(self, limit: int = 100) -> list[Row]:
        marks = ",".join("?" * len(TO_SYNC))
        return self._rows(f"WHERE state IN ({marks}) ORDER BY created_at LIMIT ?", (*TO_SYNC, limit))  # noqa: S608

    def get(self, key: str) -> Row | None:
        rows = self._rows("WHERE key = ?", (key,))
        return rows[0] if rows else None

    def all(self) -> list[Row]:
        return self._rows("ORDER BY created_at")

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._db.execute("SELECT state, COUNT(*) FROM checkouts GROUP BY state").fetchall())

    def served_locally(self, *, student_id: str, served_on: str, session_kind: str, other_than: str = "") -> bool:
        """Did this terminal serve (or is it about to sync) this student's meal in this session?"""
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM checkouts WHERE student_id = ? AND served_on = ? AND session_kind = ?"
                " AND state IN ('pending', 'retry', 'offline', 'done') AND key != ? LIMIT 1",
                (student_id, served_on, session_kind, other_than),
            ).fetchone()
        return row is not None

    def offline_spent(self, *, student_id: str | None = None, served_on: str | None = None) -> int:
        """Money served offline and not yet accepted by the server."""
        sql = "SELECT COALESCE(SUM(amount_fen), 0) FROM checkouts WHERE state = 'offline'"
        params: list[Any] = []
        if student_id is not None:
            sql += " AND student_id = ?"
            params.append(student_id)
        if served_on is not None:
            sql += " AND served_on = ?"
            params.append(served_on)
        with self._lock:
            return int(self._db.execute(sql, params).fetchone()[0])

    # -- small key/value blobs (config, roster, gallery metadata) -----------------------

    def put(self, k: str, v: bytes) -> None:
        self._write("INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v", (k, v))

    def fetch(self, k: str) -> bytes | None:
        with self._lock:
            row = self._db.execute("SELECT v FROM kv WHERE k = ?", (k,)).fetchone()
        return bytes(row[0]) if row else None
