"""Official Account (公众号) services: customer service (客服) and its session events."""

from __future__ import annotations

from wechat_async.official_account.custom import Custom, parse_kf_event

__all__ = ["Custom", "parse_kf_event"]
