"""Idempotent writes: the same Idempotency-Key with the same body replays the stored response;
with a different body it is refused. The operation and its record commit in one transaction,
so a crash half-way leaves neither, and the client's retry runs cleanly.

Concurrency: the second of two concurrent requests blocks on the unique index until the first
commits, then reads the stored response (PostgreSQL); on SQLite the IMMEDIATE transaction
serializes writers outright."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from .errors import IdempotencyInProgress, IdempotencyKeyMissing, IdempotencyKeyReused, ValidationFailed
from .models import IdempotencyRecord

MAX_KEY_LENGTH = 128


def request_fingerprint(payload: Any) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_key(key: str | None) -> str:
    if not key:
        raise IdempotencyKeyMissing()
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise ValidationFailed(
            "Idempotency-Key 须为 1–128 个可打印字符",
            "Idempotency-Key must be 1–128 printable characters",
            code="idempotency_key_invalid",
        )
    return key


def run_idempotent(
    *, scope: str, key: str | None, payload: Any, operation: Callable[[], tuple[int, Any]]
) -> tuple[int, Any, bool]:
    """Run `operation` once per (scope, key). Returns (status, body, replayed).

    `operation` must do all its writes in the current database and return a JSON-able body.
    A DomainError it raises rolls everything back and is not stored: a retry re-evaluates.
    """
    key = check_key(key)
    fingerprint = request_fingerprint(payload)
    with transaction.atomic():
        existing = IdempotencyRecord.objects.select_for_update().filter(scope=scope, key=key).first()
        if existing is not None and existing.expires_at > timezone.now():
            return _replay(existing, fingerprint)
        if existing is not None:  # expired: the key may be used afresh
            existing.delete()
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(scope=scope, key=key, request_hash=fingerprint)
        except IntegrityError:
            # Another request with this key committed between our read and our insert.
            record = IdempotencyRecord.objects.select_for_update().get(scope=scope, key=key)
            return _replay(record, fingerprint)
        status, body = operation()
        record.response_status = status
        record.response_body = body
        record.save(update_fields=["response_status", "response_body"])
        return status, body, False


def _replay(record: IdempotencyRecord, fingerprint: str) -> tuple[int, Any, bool]:
    if record.request_hash != fingerprint:
        raise IdempotencyKeyReused(details={"key": record.key})
    if record.response_status is None:
        raise IdempotencyInProgress()
    return record.response_status, record.response_body, True


def purge_expired(*, older_than: timedelta | None = None) -> int:
    cutoff = timezone.now() - (older_than or timedelta(0))
    deleted, _ = IdempotencyRecord.objects.filter(expires_at__lt=cutoff).delete()
    return deleted
