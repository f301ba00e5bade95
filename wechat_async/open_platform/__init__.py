"""Open Platform (微信开放平台): the third-party platform component and its authorizers.

`Component` handles the authorization event URL (tickets and
authorization changes), the component and authorizer tokens, the
authorization flow and fast registration of Mini Programs.
"""

from __future__ import annotations

from wechat_async.open_platform.component import (
    AuthorizerAccessToken,
    Component,
    ComponentAccessToken,
)
from wechat_async.open_platform.component_models import (
    AuthorizationInfo,
    AuthorizedEvent,
    AuthorizerInfo,
    AuthorizerInfoResult,
    AuthorizerList,
    AuthorizerListItem,
    AuthorizerOption,
    AuthType,
    ComponentEvent,
    ComponentVerifyTicketEvent,
    FastRegisterEvent,
    RegistrationStatus,
    UnauthorizedEvent,
    UnknownComponentEvent,
    UpdateAuthorizedEvent,
)

__all__ = [
    "AuthType",
    "AuthorizationInfo",
    "AuthorizedEvent",
    "AuthorizerAccessToken",
    "AuthorizerInfo",
    "AuthorizerInfoResult",
    "AuthorizerList",
    "AuthorizerListItem",
    "AuthorizerOption",
    "Component",
    "ComponentAccessToken",
    "ComponentEvent",
    "ComponentVerifyTicketEvent",
    "FastRegisterEvent",
    "RegistrationStatus",
    "UnauthorizedEvent",
    "UnknownComponentEvent",
    "UpdateAuthorizedEvent",
]
