"""Official Account customer service and the Open Platform component for FakeWeChat."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wechat_async.testing.fake import FakeWeChat

__all__ = ["FakeOfficial", "install"]


class FakeOfficial:
    """State of this endpoint family, readable and drivable from tests."""

    def __init__(self, fake: FakeWeChat) -> None:
        """Attach to ``fake``."""
        self._fake = fake


def install(fake: FakeWeChat) -> FakeOfficial:
    """Register this family's routes on ``fake`` and return its state."""
    return FakeOfficial(fake)
