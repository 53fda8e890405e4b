"""Notifications: a message per (event, recipient), its deliveries per channel, preferences,
addresses (openid, a group's robot webhook), and the outbox cursor of the consumer.

A message is what a person reads in the in-app inbox; a delivery is one attempt chain on one
outside channel. Both are unique on the event's dedupe key, so a replayed or duplicate event
never reaches anyone twice (docs/decisions.md, 2026-12-08)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from canteen.core.scoping import ScopedManager

from .choices import Channel, DeliveryStatus, Kind


class Message(models.Model):
    """One notice to one recipient: a user (staff or a guardian with an account), or a guardian
    without an account (reached on outside channels only). Text is rendered in both languages
    when the message is made, so the inbox shows what was sent."""

    id = models.BigAutoField(primary_key=True)
    kind = models.CharField(max_length=40, choices=Kind.choices)
    dedupe_key = models.CharField(max_length=160)
    # "user:<id>" or "guardian:<uuid>": one key space for the unique constraint.
    recipient_key = models.CharField(max_length=60)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    guardian = models.ForeignKey("org.Guardian", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    title_zh = models.CharField(max_length=200)
    title_en = models.CharField(max_length=200)
    body_zh = models.TextField()
    body_en = models.TextField()
    link = models.CharField(max_length=300, blank=True)
    context = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    # Org scope of the fact, so a regulator's lists stay in their district.
    district_id = models.UUIDField(null=True, blank=True)
    school_id = models.UUIDField(null=True, blank=True)
    campus_id = models.UUIDField(null=True, blank=True)

    objects = ScopedManager()
    scope_lookups = {"district": "district_id", "school": "school_id", "campus": "campus_id", "guardian": "user_id"}

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["dedupe_key", "recipient_key"], name="notify_message_once"),
        ]
        indexes = [models.Index(fields=["user", "read_at"], name="notify_inbox")]

    def __str__(self) -> str:
        return f"{self.kind} → {self.recipient_key}"


class Delivery(models.Model):
    """One message on one outside channel. (dedupe key, channel, recipient) is unique: the
    database, not the worker, is what makes a duplicate event one message."""

    id = models.BigAutoField(primary_key=True)
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="deliveries")
    dedupe_key = models.CharField(max_length=160)
    recipient_key = models.CharField(max_length=60)
    channel = models.CharField(max_length=12, choices=Channel.choices)
    address = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # Claimed by a worker until then (the send happens outside any transaction).
    claimed_until = models.DateTimeField(null=True, blank=True)
    event_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    # The provider's receipt: its message id, and the receipt time when it reports one.
    provider_ref = models.CharField(max_length=120, blank=True)
    receipt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    district_id = models.UUIDField(null=True, blank=True)
    school_id = models.UUIDField(null=True, blank=True)
    campus_id = models.UUIDField(null=True, blank=True)

    objects = ScopedManager()
    scope_lookups = {"district": "district_id", "school": "school_id", "campus": "campus_id"}

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["dedupe_key", "channel", "recipient_key"], name="notify_delivery_once"),
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="notify_delivery_due"),
        ]

    def __str__(self) -> str:
        return f"{self.channel}:{self.recipient_key} {self.status}"


class Preference(models.Model):
    """A person's choices: channels per kind (absent: the kind's defaults), quiet hours (outside
    messages held until they end; urgent food-safety kinds are not held) and the per-meal opt-in.
    The low-balance threshold is the wallet's own (ledger), which the guardian sets."""

    id = models.BigAutoField(primary_key=True)
    recipient_key = models.CharField(max_length=60, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    guardian = models.ForeignKey("org.Guardian", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    channels = models.JSONField(default=dict, blank=True, help_text='{"kind": ["sms", "wechat"]}')
    quiet_start = models.TimeField(null=True, blank=True)
    quiet_end = models.TimeField(null=True, blank=True)
    meal_charged = models.BooleanField(default=False)
    language = models.CharField(max_length=8, default="zh-hans")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.recipient_key


class Address(models.Model):
    """Where a person or a group is reached on a channel: a guardian's or a user's WeChat
    openid, an e-mail or mobile that differs from the account's, a school's or campus's WeCom
    group robot key. A scope address (school/campus) is for staff kinds sent to a group."""

    id = models.BigAutoField(primary_key=True)
    channel = models.CharField(max_length=12, choices=Channel.choices)
    address = models.CharField(max_length=300)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    guardian = models.ForeignKey("org.Guardian", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    school = models.ForeignKey("org.School", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    campus = models.ForeignKey("org.Campus", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["channel", "guardian"]), models.Index(fields=["channel", "user"])]

    def __str__(self) -> str:
        return f"{self.channel}:{self.address[:20]}"


class OutboxCursor(models.Model):
    """How far the consumer has read the outbox. It advances past an id only when every lower
    id is committed or old enough to be a rolled-back gap (see services.outbox_consume)."""

    name = models.CharField(max_length=40, primary_key=True)
    last_id = models.BigIntegerField(default=0)
    # Ids below last_id not seen yet (written by a transaction still open), with when noticed.
    gaps = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
