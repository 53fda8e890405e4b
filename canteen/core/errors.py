"""Typed domain errors. Services raise them; the API maps them to one error body:
{"error": {"code", "message", "message_zh", "message_en", "details"}}."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    code = "domain_error"
    status = 400
    message_zh = "操作无法完成"
    message_en = "The operation could not be completed"

    def __init__(
        self,
        message_zh: str | None = None,
        message_en: str | None = None,
        *,
        code: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.message_zh = message_zh or self.message_zh
        self.message_en = message_en or self.message_en
        self.code = code or self.code
        self.details = details or {}
        super().__init__(f"{self.code}: {self.message_en}")

    def message(self, language: str | None) -> str:
        return self.message_en if (language or "").startswith("en") else self.message_zh

    def detail_text(self, language: str | None) -> str:
        """The details as a person reads them ("" when the message says it all). Pages show
        this, never the details dict: its keys and values are codes for programs."""
        return ""

    def full_message(self, language: str | None) -> str:
        detail = self.detail_text(language)
        if not detail:
            return self.message(language)
        return (
            f"{self.message(language)} ({detail})"
            if (language or "").startswith("en")
            else f"{self.message(language)}（{detail}）"
        )

    def as_body(self, language: str | None = None) -> dict[str, Any]:
        return {
            "error": {
                "code": self.code,
                "message": self.message(language),
                "message_zh": self.message_zh,
                "message_en": self.message_en,
                "details": self.details,
            }
        }


class ValidationFailed(DomainError):
    code = "validation_failed"
    status = 400
    message_zh = "输入有误"
    message_en = "The input is not valid"


class NotFound(DomainError):
    code = "not_found"
    status = 404
    message_zh = "未找到"
    message_en = "Not found"


class Forbidden(DomainError):
    code = "forbidden"
    status = 403
    message_zh = "无权执行此操作"
    message_en = "You are not allowed to do this"


class Conflict(DomainError):
    code = "conflict"
    status = 409
    message_zh = "与当前状态冲突"
    message_en = "This conflicts with the current state"


class InvalidTransition(Conflict):
    code = "invalid_transition"
    message_zh = "当前状态不允许此操作"
    message_en = "This step is not allowed from the current state"


class IdempotencyKeyMissing(DomainError):
    code = "idempotency_key_missing"
    status = 400
    message_zh = "缺少 Idempotency-Key 请求头"
    message_en = "The Idempotency-Key header is required for this request"


class IdempotencyKeyReused(DomainError):
    code = "idempotency_key_reused"
    status = 422
    message_zh = "该 Idempotency-Key 已用于内容不同的请求"
    message_en = "This Idempotency-Key was already used with a different request body"


class IdempotencyInProgress(Conflict):
    code = "idempotency_in_progress"
    message_zh = "相同请求正在处理中，请稍后重试"
    message_en = "The same request is still being processed; retry shortly"
