"""微信客服 (cgi-bin/kf/*) for FakeWeChat."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wechat_async.testing.fake import FakeWeChat

__all__ = ["FakeKf", "install"]


class FakeKf:
    """State of this endpoint family, readable and drivable from tests."""

    def __init__(self, fake: FakeWeChat) -> None:
        """Attach to ``fake``."""
        self._fake = fake


def install(fake: FakeWeChat) -> FakeKf:
    """Register this family's routes on ``fake`` and return its state."""
    return FakeKf(fake)
