"""Online top-ups through real payment providers (WeChat Pay API v3, Alipay) and the demo one.

- `registry`: which providers this deployment takes, from settings; production never registers
  the demo provider (`checks`: `check --deploy` fails with ledger.E001 when it is configured).
- `merchants`: per-school merchant accounts; keys and certificates come from files or the
  environment, never from the database.
- `wechat`: WeChat Pay API v3 through the `wechatpayv3` SDK (base URL configurable).
- `crediting`: the one place a verified payment becomes a posting (notification or query).
- `refunds`: family money back to the original channel, closed by the provider's notification.
- `bills`: the providers' daily bills and the three-way reconciliation.
"""
