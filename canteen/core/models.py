from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

from .scoping import ScopedManager, ScopedQuerySet


class BaseModel(models.Model):
    """UUID keys let campuses, terminals and districts create rows offline without clashes,
    and leak no row counts through sequential ids."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedManager()

    class Meta:
        abstract = True


class AppendOnlyQuerySet(ScopedQuerySet):
    def update(self, **kwargs):
        raise TypeError(f"{self.model.__name__} is append-only")

    def delete(self):
        raise TypeError(f"{self.model.__name__} is append-only")


class AuditEvent(models.Model):
    """Who did what to which row, with before/after and the request id. Written explicitly by
    services (never by signals), never updated or deleted by the application."""

    id = models.BigAutoField(primary_key=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=80)
    target_type = models.CharField(max_length=80)
    target_id = models.CharField(max_length=64)
    target_label = models.CharField(max_length=200, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    # Denormalized org scope so a district can read its own audit trail without joins.
    district_id = models.UUIDField(null=True, blank=True, db_index=True)
    school_id = models.UUIDField(null=True, blank=True, db_index=True)

    objects = AppendOnlyQuerySet.as_manager()

    scope_lookups = {"district": "district_id", "school": "school_id"}

    class Meta:
        ordering = ["-at", "-id"]
        # Plain indexes: db_index on a CharField adds a second, pattern-matching one (PostgreSQL)
        # that no query here uses, on a table written by every hot path.
        indexes = [
            models.Index(fields=["target_type", "target_id", "at"]),
            models.Index(fields=["action"], name="audit_action"),
            models.Index(fields=["target_id"], name="audit_target_id"),
            models.Index(fields=["request_id"], name="audit_request_id"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_label} {self.action} {self.target_type}:{self.target_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            raise TypeError("AuditEvent is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("AuditEvent is append-only")


def _idempotency_expiry():
    return timezone.now() + timedelta(hours=settings.IDEMPOTENCY_TTL_HOURS)


class IdempotencyRecord(models.Model):
    """The stored response of a write request, keyed by (scope, Idempotency-Key). The unique
    constraint, not application code, is what stops two concurrent requests both running."""

    id = models.BigAutoField(primary_key=True)
    scope = models.CharField(max_length=120)
    key = models.CharField(max_length=128)
    request_hash = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(default=_idempotency_expiry, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scope", "key"], name="idempotency_scope_key_unique")]

    def __str__(self) -> str:
        return f"{self.scope}:{self.key}"


class OutboxEvent(models.Model):
    """A domain event, stored in the transaction that caused it (see core.events)."""

    id = models.BigAutoField(primary_key=True)
    topic = models.CharField(max_length=80)
    payload = models.JSONField(encoder=DjangoJSONEncoder)
    occurred_at = models.DateTimeField(default=timezone.now, db_index=True)
    # For a relay to a broker; nothing sets it yet, so it has no index to keep up.
    relayed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        # A plain index: db_index on a CharField adds a second, pattern-matching one (PostgreSQL),
        # and two or three events are written on every checkout.
        indexes = [models.Index(fields=["topic"], name="outbox_topic")]

    def __str__(self) -> str:
        return f"#{self.id} {self.topic}"
