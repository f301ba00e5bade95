"""WeCom (企业微信) services: Kf (微信客服), Media, Tag, User, AppChat, and the WeCom facade."""

from __future__ import annotations

from wechat_async.wecom.appchat import AppChat
from wechat_async.wecom.client import WeCom
from wechat_async.wecom.kf import Kf
from wechat_async.wecom.media import Media
from wechat_async.wecom.tag import Tag
from wechat_async.wecom.user import User

__all__ = ["AppChat", "Kf", "Media", "Tag", "User", "WeCom"]
