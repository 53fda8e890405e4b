"""The OpenAPI schema tells the truth about errors: every operation lists the error statuses it
can answer with, each with the one error body (canteen.core.errors.DomainError.as_body).

Views declare their success responses; the errors come from shared machinery (authentication,
permissions, validation, the hostile-input guard, throttling/lockout, idempotency), so they are
added here once, by a drf-spectacular postprocessing hook, instead of on 102 operations."""

from __future__ import annotations

from typing import Any

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "message_zh", "message_en", "details"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "message_zh": {"type": "string"},
                "message_en": {"type": "string"},
                "details": {},
            },
        }
    },
}

_DESCRIPTIONS = {
    "400": "请求有误 The request is not valid (validation_failed, parse_error, bad_request, …)",
    "401": "未登录或凭据无效 Not authenticated",
    "403": "无权访问 Not allowed (also otp_required)",
    "404": "未找到（或不在您的范围内）Not found, or outside your scope",
    "405": "不支持该方法 Method not allowed",
    "409": "与当前状态冲突 Conflicts with the current state",
    "413": "请求内容过大 Request body too large",
    "415": "不支持的内容类型 Unsupported media type",
    "422": "Idempotency-Key 已用于不同内容 Idempotency key reused with another body",
    "429": "请求过于频繁或已锁定 Too many requests or locked out",
}
_ALWAYS = ("400", "401", "403", "404", "405", "429")
_WITH_BODY = ("409", "413", "415", "422")


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    components = result.setdefault("components", {})
    components.setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    ref = {"$ref": "#/components/schemas/Error"}
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            codes = _ALWAYS + (_WITH_BODY if method in {"post", "put", "patch", "delete"} else ())
            for code in codes:
                existing = responses.get(code)
                if existing is None or not existing.get("content"):
                    responses[code] = {
                        "description": (existing or {}).get("description") or _DESCRIPTIONS[code],
                        "content": {"application/json": {"schema": ref}},
                    }
            # Answered by the web server in front (gunicorn's request-line limit), as a page.
            responses.setdefault("414", {"description": "请求地址过长 URI too long (the web server's limit)"})
    return result


# For views that answer a plain JSON array of objects (their extend_schema said "object").
OBJECT_LIST = {"type": "array", "items": {"type": "object", "additionalProperties": {}}}
