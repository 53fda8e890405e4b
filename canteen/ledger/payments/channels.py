"""The real providers' modules by name: each has start, query, close, refund, refund_query,
trade_bill, parse_callback and acknowledge with the same meaning."""

from __future__ import annotations

from types import ModuleType

REAL = ("wechat", "alipay")


def impl(name: str) -> ModuleType:
    from . import alipay, wechat

    return {"wechat": wechat, "alipay": alipay}[name]
