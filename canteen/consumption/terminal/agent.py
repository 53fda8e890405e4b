"""The terminal's main loop: frames → face → gallery match → checkout → kiosk, with the offline
rules. See store.py for the durability contract."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from canteen.core.qr import decode_qr

from .client import Offline, Reply, ServerClient
from .kiosk import KioskState
from .store import Store

log = logging.getLogger("canteen.terminal")
QR_PREFIX = "CQ1."  # identity's QR card tokens
# The server's answers that mean "this terminal's token is not (or no longer) accepted": the
# sync pauses and keeps every row until a valid token arrives; nothing is written off.
AUTH_FAILURES = frozenset({"authentication_failed", "not_authenticated", "terminal_inactive"})
AUTH_NOTICE = "终端认证失败（令牌已更换或终端已停用）：待同步的取餐记录已保留，请联系食堂负责人更新终端令牌"


def _local_key(token: str) -> AESGCM:
    """Files the terminal keeps (roster, config) are sealed with a key derived from its token,
    which is not stored on disk: a stolen disk holds no readable names."""
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"canteen-terminal", info=b"local-files").derive(
        token.encode()
    )
    return AESGCM(key)


@dataclass
class Session:
    kind: str
    start: str  # "HH:MM"
    end: str


@dataclass
class Config:
    code: str = ""
    window_name: str = ""
    campus_id: str = ""
    offline_limit_fen: int = 0
    offline_total_limit_fen: int = 0
    gallery_version: str = ""
    timezone: str = "Asia/Shanghai"
    sessions: list[Session] = field(default_factory=list)
    # Highest set-meal price of the campus: the offline estimate of what a meal costs, so the
    # offline limit errs on the side of the canteen.
    offline_price_fen: int = 0
    # How long the server may still be running a request it received (its process is killed
    # after that): a "not found" is final only for a request older than this.
    request_deadline_s: float = 60.0
    # The server's clock minus this terminal's, measured at the last /terminal/me/.
    server_offset_s: float = 0.0
    # The campus's policy: "required" = a face checkout needs a live face (camera module's
    # signal or the multi-frame check); "off" = not checked.
    face_liveness: str = "off"

    @classmethod
    def from_me(cls, body: dict) -> Config:
        return cls(
            code=body.get("code", ""),
            window_name=body.get("window_name", ""),
            campus_id=str(body.get("campus_id", "")),
            offline_limit_fen=int(body.get("offline_limit_fen") or 0),
            offline_total_limit_fen=int(body.get("offline_total_limit_fen") or 0),
            gallery_version=str(body.get("gallery_version", "")),
            timezone=body.get("timezone") or "Asia/Shanghai",
            sessions=[Session(**s) for s in body.get("sessions", [])],
            offline_price_fen=int(body.get("offline_price_fen") or 0),
            request_deadline_s=float(body.get("request_deadline_s") or 60),
            server_offset_s=float(body.get("server_offset_s") or 0),
            face_liveness=str(body.get("face_liveness") or "off"),
        )


class TerminalAgent:
    def __init__(
        self,
        *,
        client: ServerClient,
        store: Store,
        kiosk: KioskState,
        token: str,
        engine: Any = None,
        cooldown: float = 8.0,
        sync_every: float = 2.0,
        sync_pause: float = 0.0,
        offline_retry_after: float = 5.0,
        min_face_px: int = 100,
        liveness: Any = None,
    ) -> None:
        self.client = client
        self.store = store
        self.kiosk = kiosk
        self.engine = engine
        self.cooldown = cooldown
        self.sync_every = sync_every
        self.sync_pause = sync_pause
        self.offline_retry_after = offline_retry_after
        self.min_face_px = min_face_px
        # canteen.identity.liveness.LivenessCheck: the multi-frame check (None: not installed).
        self.liveness = liveness
        self._approach = liveness.approach() if liveness is not None else None
        self._last_prompt = 0.0
        self._seal = _local_key(token)
        self.config = Config()
        self.gallery: Any = None
        self.roster: dict[str, dict] = {}
        self._recent: dict[str, float] = {}
        self._offline_since: float | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._sync_thread: threading.Thread | None = None
        self.stats: dict[str, list[float]] = {"identify_ms": [], "checkout_ms": []}
        self._last_qr_scan = 0.0
        # Set when the server refuses this terminal's token: the sync waits for a valid one.
        self.auth_failed = ""

    # -- local sealed files ---------------------------------------------------------------

    def _put_sealed(self, name: str, data: bytes) -> None:
        nonce = uuid.uuid4().bytes[:12]
        self.store.put(name, nonce + self._seal.encrypt(nonce, data, name.encode()))

    def _get_sealed(self, name: str) -> bytes | None:
        blob = self.store.fetch(name)
        if blob is None:
            return None
        try:
            return self._seal.decrypt(blob[:12], blob[12:], name.encode())
        except Exception:
            log.warning("local %s cannot be opened (token changed?); ignoring it", name)
            return None

    # -- start-up and refresh ---------------------------------------------------------------

    @property
    def online(self) -> bool:
        return self._offline_since is None

    def _went_offline(self, why: str) -> None:
        if self._offline_since is None:
            log.warning("server unreachable (%s): working offline", why)
            self._offline_since = time.monotonic()

    def _came_online(self) -> None:
        if self._offline_since is not None:
            log.info("server reachable again")
        self._offline_since = None

    def start(self) -> None:
        recovered = self.store.recover()
        if recovered:
            log.info("%d checkout(s) were in flight at the last stop; they will be resent", recovered)
        cached = self._get_sealed("config")
        if cached:
            self.config = Config.from_me(json.loads(cached))
        roster = self._get_sealed("roster")
        if roster:
            self.roster = {s["id"]: s for s in json.loads(roster)}
        package = self.store.fetch("gallery")
        if package:
            self._open_gallery(package)
        self.refresh()
        self.kiosk.window_name = self.config.window_name

    def _open_gallery(self, package: bytes) -> None:
        from canteen.identity.services import gallery_package_open

        # A window PC should hold only its campus's package key (shown with the token at
        # registration), not the district's root template key; without it, the key is derived
        # from this process's settings (a terminal run on the server itself).
        campus_key = os.environ.get("CANTEEN_TERMINAL_GALLERY_KEY")
        try:
            key = base64.b64decode(campus_key) if campus_key else None
            self.gallery = gallery_package_open(package, key=key)
        except Exception as exc:  # a damaged or foreign package: keep what we had
            log.error("gallery package rejected: %s", exc)

    def refresh(self) -> bool:
        """Config, then the gallery and roster when the gallery version moved. False if offline."""
        try:
            have = str(self.gallery.version) if self.gallery is not None else ""
            me = self.client.me(gallery_version=have)
            if not me.ok:
                log.error("terminal not accepted by the server: %s %s", me.status, me.message_zh)
                if me.status in (401, 403):
                    self._auth_refused(me.error_code or str(me.status))
                self._came_online()
                return False
            self._auth_accepted()
            body = dict(me.body)
            try:
                server_now = datetime.fromisoformat(body["server_time"]).timestamp()
                body["server_offset_s"] = round(server_now - time.time(), 3)
            except (KeyError, TypeError, ValueError):
                body["server_offset_s"] = 0.0
            self.config = Config.from_me(body)
            self._put_sealed("config", json.dumps(body).encode())
            self.kiosk.window_name = self.config.window_name
            if self.gallery is None or str(self.gallery.version) != self.config.gallery_version:
                reply = self.client.gallery(have_version=have)
                if reply.status == 200:
                    self.store.put("gallery", reply.raw)
                    self._open_gallery(reply.raw)
                roster = self.client.roster()
                if roster.ok:
                    students = roster.body["students"]
                    self._put_sealed("roster", json.dumps(students).encode())
                    self.roster = {s["id"]: s for s in students}
            self._came_online()
            return True
        except Offline as exc:
            self._went_offline(str(exc))
            return False

    def _auth_refused(self, code: str) -> None:
        if not self.auth_failed:
            log.error("the server refuses this terminal's token (%s): sync paused, rows kept", code)
        self.auth_failed = code or "authentication_failed"
        self.kiosk.set_notice(AUTH_NOTICE)

    def _auth_accepted(self) -> None:
        if self.auth_failed:
            log.info("token accepted again: sync resumes")
            self.auth_failed = ""
            self.kiosk.set_notice("")

    # -- frames ------------------------------------------------------------------------------

    def handle_frame(self, frame_ts: float, frame: np.ndarray, camera_live: bool | None = None) -> str | None:
        """Process one camera frame; returns what the screen now shows (or None: nothing new).
        `camera_live`: the camera module's own liveness signal for this frame (IR, depth), when
        it gives one."""
        if self.engine is None or self.gallery is None:
            return None
        t0 = time.perf_counter()
        # Only the largest face is the student at the window; the queue behind is neither looked
        # for (faces under min_face_px) nor embedded (15–20 ms per face: it would add to the wait).
        boxes = self.engine.detect(frame, min_face_px=self.min_face_px)
        if not boxes:
            # No face: perhaps a QR card held up to the same camera (the alternative to the
            # face uses the same window, not a second-class queue).
            return self._scan_qr(frame_ts, frame)
        required = self.config.face_liveness == "required"
        live = None
        if required and camera_live is None and self._approach is not None:
            # Every frame of the approach counts, before the match decides: a blink may come
            # before the face is recognized.
            live = self._approach.observe(frame_ts, frame, boxes[0])
        embedding = self.engine.embed(frame, boxes[0])
        match = self.gallery.identify(embedding)
        self.stats["identify_ms"].append((time.perf_counter() - t0) * 1000)
        subject = match.student_id or match.candidate_id or "?"
        if match.decision == "reject":
            scanned = self._scan_qr(frame_ts, frame)
            if scanned:
                return scanned
        liveness = ""
        if match.decision == "accept" and required:
            liveness, shown = self._liveness_gate(frame_ts, match, camera_live, live)
            if not liveness:
                return shown
        if not self._fresh(f"{match.decision}:{subject}"):
            return None  # the same student still standing there
        if match.decision == "reject":
            self.kiosk.show(
                "unknown", frame_ts=frame_ts, message="未能识别，请出示二维码或到人工窗口", online=self.online
            )
            return "unknown"
        student = self.roster.get(match.student_id) or {"id": match.student_id, "name": ""}
        if match.decision == "confirm":
            self.kiosk.show(
                "confirm",
                frame_ts=frame_ts,
                student=student,
                message="识别把握不足：请正对屏幕再试一次，或出示二维码",
                online=self.online,
            )
            return "confirm"
        # Name and set meal first: this is what the student waits for; the charge follows.
        self.kiosk.show("identified", frame_ts=frame_ts, student=student, online=self.online)
        return self.checkout(
            student_id=match.student_id,
            frame_ts=frame_ts,
            method="face",
            match_distance=round(float(match.distance), 4),
            match_margin=round(float(match.margin), 4),
            **({"liveness": liveness} if liveness else {}),
        )

    def _liveness_gate(
        self, frame_ts: float, match: Any, camera_live: bool | None, live: Any
    ) -> tuple[str, str | None]:
        """("camera" | "multiframe", None) when the face is live; ("", what the screen shows)
        when not (yet). A photo or a screen is refused; a face that has not blinked yet is asked
        to, and the next frames of its approach are looked at."""
        student = self.roster.get(match.student_id) or {"id": match.student_id, "name": ""}
        if camera_live is True:
            return "camera", None
        if camera_live is False or self.liveness is None:
            if not self._fresh(f"spoof:{match.student_id}"):
                return "", None
            message = (
                "活体检测未通过：请本人正对摄像头，或出示二维码"
                if camera_live is False
                else "本终端未配备活体检测，请出示二维码或到人工窗口"
            )
            self.kiosk.show("refused", frame_ts=frame_ts, student=student, message=message, online=self.online)
            return "", "refused"
        if live is not None and live.live:
            return "multiframe", None
        if frame_ts - self._last_prompt < 1.0:
            return "", None
        self._last_prompt = frame_ts
        self.kiosk.show(
            "confirm", frame_ts=frame_ts, student=student, message="请眨一眨眼睛，完成活体检测", online=self.online
        )
        return "", "liveness_wait"

    def _fresh(self, subject: str) -> bool:
        now = time.time()
        if now - self._recent.get(subject, 0) < self.cooldown:
            return False
        self._recent[subject] = now
        return True

    def _scan_qr(self, frame_ts: float, frame: np.ndarray) -> str | None:
        # A card stays in view for a second or more: looking 5 times a second is enough, and
        # spares the CPU on the empty frames between students.
        if frame_ts - self._last_qr_scan < 0.2:
            return None
        self._last_qr_scan = frame_ts
        text = decode_qr(frame)
        # Only the canteen's own cards; the token is verified by the server.
        if not text or not text.startswith(QR_PREFIX) or not self._fresh(f"qr:{text}"):
            return None
        return self.checkout(student_id="", frame_ts=frame_ts, method="qr", qr_token=text)

    # -- checkout ---------------------------------------------------------------------------

    def _local_session(self, at: datetime) -> tuple[str, str]:
        local = at.astimezone(ZoneInfo(self.config.timezone))
        hhmm = local.strftime("%H:%M")
        for s in self.config.sessions:
            if s.start <= hhmm < s.end:
                return local.date().isoformat(), s.kind
        return local.date().isoformat(), ""

    def checkout(self, *, student_id: str, frame_ts: float, method: str = "face", **extra: Any) -> str:
        at = datetime.fromtimestamp(frame_ts).astimezone()
        key = f"{self.config.code or 'T'}-{uuid.uuid4().hex}"
        # The moment (server's clock) after which this terminal has given the request up: the
        # server refuses it from then on, so a request held up in a frozen or overloaded worker
        # cannot charge a pupil the screen refused or served offline.
        give_up = time.time() + self.config.server_offset_s + self.client.timeout
        expires = datetime.fromtimestamp(give_up).astimezone().isoformat(timespec="milliseconds")
        body = {"method": method, "identified_at": at.isoformat(), "expires_at": expires, **extra}
        if student_id:
            body["student_id"] = student_id
        served_on, session_kind = self._local_session(at)
        # A QR card is matched to its student by the server; offline, the card itself is what
        # the per-student limits count (by a hash: the queue's index holds no token).
        local_id = student_id or "qr:" + hashlib.sha256(str(extra.get("qr_token", "")).encode()).hexdigest()[:24]
        self.store.add(
            key=key,
            body=body,
            student_id=local_id,
            amount_fen=self.config.offline_price_fen,
            served_on=served_on,
            session_kind=session_kind,
        )
        student = self.roster.get(student_id) or {"id": local_id, "name": "" if student_id else "二维码"}
        if not self.online and time.monotonic() - (self._offline_since or 0) < self.offline_retry_after:
            return self._serve_offline(key, student, frame_ts, served_on, session_kind, sent=False)
        t0 = time.perf_counter()
        try:
            reply = self.client.checkout(key=key, body=body)
        except Offline as exc:
            self._went_offline(str(exc))
            return self._serve_offline(key, student, frame_ts, served_on, session_kind, sent=exc.sent)
        self.stats["checkout_ms"].append((time.perf_counter() - t0) * 1000)
        self._came_online()
        return self._settle_online(key, reply, student, frame_ts)

    def _settle_online(self, key: str, reply: Reply, student: dict, frame_ts: float) -> str:
        if reply.ok:
            self.store.set_state(key, "done", response=reply.body, synced=True)
            record = reply.body["record"]
            self.kiosk.show(
                "served",
                frame_ts=frame_ts,
                student=reply.body.get("student") or student,
                set_meal_name=record["set_meal_name"],
                price_fen=record["price_fen"],
                balance_after_fen=reply.body.get("balance_after_fen"),
                online=True,
            )
            return "served"
        if reply.error_code == "idempotency_in_progress":
            self.store.set_state(key, "retry", error=reply.error_code)
            return "pending"
        if reply.status in (401, 403) and reply.error_code in AUTH_FAILURES:
            self._auth_refused(reply.error_code)
        self.store.set_state(key, "rejected", response=reply.body, error=reply.error_code)
        # The server names whom it refused (a QR card, a PIN): the roster has the name.
        details = _details(reply)
        named = self.roster.get(str(details.get("student_id", "")))
        if named:
            student = named
        if reply.error_code == "allergen_conflict":
            # Red screen: the meal holds what the pupil must not eat; nothing was charged and
            # the window staff decide (serve the alternative, or confirm with a reason).
            self.kiosk.show(
                "allergen",
                frame_ts=frame_ts,
                student=student,
                conflict_allergens=list(details.get("allergens") or []),
                set_meal_name=str(details.get("set_meal_name") or ""),
                alternative_name=str(details.get("alternative_name") or ""),
                message=reply.message_zh,
                code=reply.error_code,
                online=True,
            )
            return "allergen"
        self.kiosk.show(
            "refused",
            frame_ts=frame_ts,
            student=student,
            message=reply.message_zh or "无法取餐",
            code=reply.error_code,
            online=True,
        )
        return "refused"

    def _serve_offline(
        self, key: str, student: dict, frame_ts: float, served_on: str, session_kind: str, *, sent: bool = True
    ) -> str:
        """The server is unreachable: serve within the offline limits, or refuse. Either way
        the row stays for the sync thread (an abandoned one is voided there if it did land)."""
        reason = self._offline_refusal(key, student["id"], served_on, session_kind)
        if reason:
            self.store.set_state(key, "abandoned", error=reason, sent=sent)
            self.kiosk.show("refused", frame_ts=frame_ts, student=student, message=reason, online=False)
            self._wake.set()
            return "refused"
        self.store.set_state(key, "offline")
        self.kiosk.show(
            "offline_served",
            frame_ts=frame_ts,
            student=student,
            set_meal_name="",
            price_fen=self.config.offline_price_fen,
            message="网络中断，已离线记账，恢复后自动结算",
            online=False,
        )
        self._wake.set()
        return "offline_served"

    def _offline_refusal(self, key: str, student_id: str, served_on: str, session_kind: str) -> str:
        price = self.config.offline_price_fen
        if not self.config.code or price <= 0:
            return "终端尚未从服务器取得配置，离线时无法记账，请到人工窗口"
        if not session_kind:
            return "现在不是供餐时间"
        if self.store.served_locally(
            student_id=student_id, served_on=served_on, session_kind=session_kind, other_than=key
        ):
            return "本餐次已在本窗口取过餐"
        spent = self.store.offline_spent(student_id=student_id, served_on=served_on)
        if spent + price > self.config.offline_limit_fen:
            return "已达离线消费限额，请到人工窗口"
        if self.store.offline_spent() + price > self.config.offline_total_limit_fen:
            return "终端离线记账总额已满，请到人工窗口"
        return ""

    # -- sync --------------------------------------------------------------------------------

    def sync_once(self) -> int:
        """Send everything waiting, oldest first; stops at the first network failure, and
        pauses (keeping every row) when the server refuses the token. Returns the number of
        rows settled."""
        settled = 0
        if self.auth_failed:
            return 0  # refresh() lifts the pause once the server accepts a token again
        for row in self.store.to_sync():
            if self._stop.is_set():
                break
            try:
                if row.state == "abandoned":
                    if not self._reconcile_abandoned(row):
                        if self.auth_failed:
                            return settled
                        continue
                else:
                    reply = self.client.checkout(
                        key=row.key, body=row.body, served_offline=row.state == "offline", syncing=True
                    )
                    if reply.ok:
                        self.store.set_state(row.key, "done", response=reply.body, synced=True)
                    elif reply.error_code == "idempotency_in_progress":
                        continue
                    elif reply.status in (401, 403) and reply.error_code in AUTH_FAILURES:
                        self._auth_refused(reply.error_code)
                        self.store.note_error(row.key, reply.error_code)
                        return settled
                    else:
                        # A refused online retry charged nothing; a refused offline meal was
                        # handed over anyway: kept as failed for the manager, never resent.
                        state = "rejected" if row.state == "retry" else "failed"
                        self.store.set_state(row.key, state, response=reply.body, error=reply.error_code)
                        log.warning("checkout %s %s: %s", row.key, state, reply.error_code)
            except Offline as exc:
                self._went_offline(str(exc))
                return settled
            self._came_online()
            settled += 1
            if self.sync_pause:
                time.sleep(self.sync_pause)
        return settled

    def _reconcile_abandoned(self, row: Any) -> bool:
        """Did the request of a checkout refused on screen reach the server after all? Void it
        if so. True when the row is settled."""
        key = row.key
        found = self.client.record_by_key(key)
        if found.status in (401, 403) and found.error_code in AUTH_FAILURES:
            self._auth_refused(found.error_code)
            return False
        if found.status == 404:
            # "Not found" is final only once the request cannot still be running in a server
            # process: it expired (the server refuses it from then on), and whatever passed
            # that check before has been answered or killed with its process.
            settles_at = row.created_at + self.client.timeout + self.config.request_deadline_s + 1
            if row.sent and time.time() < settles_at:
                self.store.note_error(key, "not_found_yet")
                return False
            self.store.set_state(key, "done", error="nothing_to_void", synced=True)
            return True
        if not found.ok:
            self.store.note_error(key, found.error_code or str(found.status))
            return False
        if found.body.get("status") == "served":
            reply = self.client.void(
                record_id=found.body["id"], key=f"void-{key}", reason="终端离线时已拒绝该次取餐，恢复后撤销"
            )
            if not reply.ok and reply.error_code != "meal_record_voided":
                self.store.note_error(key, reply.error_code or str(reply.status))
                return False
        self.store.set_state(key, "done", response=found.body, error="voided", synced=True)
        return True

    def _sync_loop(self) -> None:
        last_refresh = 0.0
        while not self._stop.is_set():
            self._wake.wait(self.sync_every)
            self._wake.clear()
            if time.monotonic() - last_refresh > 60 or not self.online or self.auth_failed:
                last_refresh = time.monotonic()
                if not self.refresh():
                    continue
            try:
                self.sync_once()
            except Exception:  # never let the sync thread die; the next round retries
                log.exception("sync round failed")

    def start_sync(self) -> None:
        self._sync_thread = threading.Thread(target=self._sync_loop, name="sync", daemon=True)
        self._sync_thread.start()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def report(self) -> dict[str, Any]:
        """Figures for the bench and the log: per-frame identify and checkout times (ms), and
        frame-to-screen times measured from the kiosk's paint acknowledgements."""
        # Frame to screen, and split at show(): the agent's share and the page's.
        e2e: dict[str, list[float]] = {}
        stages: dict[str, dict[str, list[float]]] = {}
        for kind, agent_s, page_s in list(self.kiosk.stages):
            e2e.setdefault(kind, []).append((agent_s + page_s) * 1000)
            parts = stages.setdefault(kind, {"agent": [], "page": []})
            parts["agent"].append(agent_s * 1000)
            parts["page"].append(page_s * 1000)
        return {**self.stats, "frame_to_screen_ms": e2e, "stages_ms": stages, "queue": self.store.counts()}

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._sync_thread is not None:
            self._sync_thread.join(timeout=10)

    def drain(self, timeout: float = 60.0) -> bool:
        """Sync until nothing is waiting (True) or the time runs out (False)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.store.to_sync(limit=1):
                return True
            if self.auth_failed and not self.refresh():
                return False  # the token is refused: the queue waits for a valid one
            if not (self.online or self.refresh()):
                return False  # unreachable: the queue waits for the next run
            self.sync_once()
            if self.auth_failed:
                return False
            if self.store.to_sync(limit=1):
                time.sleep(0.5)
        return not self.store.to_sync(limit=1)


def _details(reply: Reply) -> dict:
    if isinstance(reply.body, dict):
        details = (reply.body.get("error") or {}).get("details")
        if isinstance(details, dict):
            return details
    return {}
