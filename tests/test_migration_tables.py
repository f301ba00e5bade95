"""The migration guides' method tables stay true to wechat_async and complete for the peers.

Every name in a table's "wechat_async" column must resolve to a real attribute.
The wechatpy tables must list every public method of the wechatpy classes they
cover (found by introspection, so a wechatpy upgrade that adds one fails here).
silenceper/wechat is Go and cannot be imported: its method list is kept below,
read from its source, and the table must cover exactly that list.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any

import pytest

from wechat_async.crypto import MessageCrypto
from wechat_async.official_account import Custom, parse_kf_event
from wechat_async.open_platform.component import (
    AuthorizerAccessToken,
    Component,
    ComponentAccessToken,
)
from wechat_async.wecom.appchat import AppChat
from wechat_async.wecom.client import WeCom
from wechat_async.wecom.kf import Kf
from wechat_async.wecom.media import Media
from wechat_async.wecom.tag import Tag
from wechat_async.wecom.user import User

DOCS = Path(__file__).resolve().parents[1] / "docs" / "migration"
MISSING = "— (not in wechat_async yet)"

# The first dotted part of an "ours" name, resolved; the rest is getattr'd.
OURS_ROOTS: dict[str, Any] = {
    "AppChat": AppChat,
    "AuthorizerAccessToken": AuthorizerAccessToken,
    "Component": Component,
    "ComponentAccessToken": ComponentAccessToken,
    "Custom": Custom,
    "Kf": Kf,
    "Media": Media,
    "MessageCrypto": MessageCrypto,
    "Tag": Tag,
    "User": User,
    "WeCom": WeCom,
    "parse_kf_event": parse_kf_event,
}

# Exported methods of the receivers below, read from the silenceper/wechat (v2) files
# work/kf/*.go, work/material/media.go, work/addresslist/tag.go and user.go,
# work/appchat/appchat.go, officialaccount/customerservice/manager.go,
# officialaccount/message/customer_message.go, openplatform/openplatform.go,
# openplatform/context/accessToken.go and openplatform/account/account.go as stored in
# the code search index under "silenceper/wechat". The newest stored version of each is
# at commit 2bf34c3aca157f47c0cb022b8fc40763b4d6c687, but that commit's go.mod names
# module github.com/linyken/wechat/v2: it is a fork's snapshot of master, not a
# silenceper commit. So each name was also checked against an older version that
# imports github.com/silenceper/wechat/v2, or against a merged silenceper PR.
# The kf names are in 82257f38cfcf927e46364975eb9286d2d93bfab6 (account.go, which lacks
# AccountPaging; the silenceper/wechat/v2@v2.1.8 API docs list it),
# 917f1817e54df6483c2a7a12c8612f67eb62d40c, 91162e8febfc1d700f99cfc78337567db06763ae,
# d86b28c90feb6682bf009990f18895e0996ce8b0, 32a9610f8f56f63df8c9201d87f02334d00c1bb6,
# 05ec6a42ae555b701f3fe07a29f735fab668d2bc, 2a84dc805b7a83d76e17514d3cb4560f6d6a149e,
# 3df9a0b51eb58ef5e8cc2d987f8b6099cdd5a824, dab9d682cfcad8aea3737071efaea948f841a0b5,
# 4094adc5b433d029ed9d62e3674a3eb5c4789bd3 and 376acb707a24dda87f4d7d3688575331aa51352b.
# Media has UploadImg and UploadTempFile in 205921c4951c92cfe6a8d1a33d146ac3e863c411,
# UploadAttachment, GetTempFile and UploadImgFromReader from merged PRs #720, #801 and
# #802, and the other two FromReader uploads (likely PR #786) only in 2bf34c3a and in an
# index copy of media.go that imports the silenceper module. Tags are in
# 298e8c5d29bbb9e77529b0862cde8abe293e1067, users in
# f424e6ad274f05b91edd234c4b1808752bb7672d plus UserUpdate (merged PR #799), appchat in
# 0267bfbfa69952c9ac097b1f0305a8c1f8a01b55, customer service in
# 72782c7b0e9ece976f972dbfb7df22d4f11f6be6 and ec46750b64debfb6703c49e44919c90c02c0412c,
# OpenPlatform in a389a16b9c2ea40621209d2785f4bf14015694e6, the component context in
# e726302907584c6c7e315b863a15f98ae30d3e94 plus the *Context variants (merged PR #653)
# and GetBindComponentURLV2 (#823), and Account in 65508fda24f25669ba62cf64af2e230c20099650.
# Master has since merged PRs #873 and #874 (January 2026, more member management in
# work/addresslist); no stored source has them, so their methods are not listed yet.
# Constructors (NewClient, New*Manager) and methods promoted from an embedded
# context are left out.
SILENCEPER_METHODS: frozenset[str] = frozenset(
    [
        *(
            f"kf.Client.{name}"
            for name in [
                "AccountAdd",
                "AccountDel",
                "AccountUpdate",
                "AccountList",
                "AccountPaging",
                "AddContactWay",
                "ReceptionistAdd",
                "ReceptionistDel",
                "ReceptionistList",
                "SyncMsg",
                "SendMsg",
                "SendMsgOnEvent",
                "ServiceStateGet",
                "ServiceStateTrans",
                "CustomerBatchGet",
                "UpgradeServiceConfig",
                "UpgradeService",
                "UpgradeMemberService",
                "UpgradeGroupChatService",
                "UpgradeServiceCancel",
                "GetCorpQualification",
                "GetCorpStatistic",
                "GetServicerStatistic",
                "AddKnowledgeGroup",
                "DelKnowledgeGroup",
                "ModKnowledgeGroup",
                "ListKnowledgeGroup",
                "AddKnowledgeIntent",
                "DelKnowledgeIntent",
                "ModKnowledgeIntent",
                "ListKnowledgeIntent",
                "VerifyURL",
                "GetCallbackMessage",
            ]
        ),
        *(
            f"material.Client.{name}"
            for name in [
                "UploadImg",
                "UploadImgFromReader",
                "UploadTempFile",
                "UploadTempFileFromReader",
                "UploadAttachment",
                "UploadAttachmentFromReader",
                "GetTempFile",
            ]
        ),
        *(
            f"addresslist.Client.{name}"
            for name in [
                "CreateTag",
                "UpdateTag",
                "DeleteTag",
                "GetTag",
                "AddTagUsers",
                "DelTagUsers",
                "ListTag",
                "UserSimpleList",
                "UserCreate",
                "UserUpdate",
                "UserGet",
                "UserDelete",
                "UserListID",
                "ConvertToOpenID",
                "ConvertToUserID",
            ]
        ),
        *(f"appchat.Client.{name}" for name in ("Send", "SendText", "SendImage", "SendVoice")),
        *(
            f"customerservice.Manager.{name}"
            for name in [
                "List",
                "OnlineList",
                "Add",
                "Update",
                "Delete",
                "InviteBind",
                "UploadHeadImg",
                "SendTypingStatus",
            ]
        ),
        "message.Manager.Send",
        *(
            f"context.Context.{name}{suffix}"
            for name in [
                "GetComponentAccessToken",
                "SetComponentAccessToken",
                "GetPreCode",
                "GetComponentLoginPage",
                "GetBindComponentURL",
                "GetBindComponentURLV2",
                "QueryAuthCode",
                "RefreshAuthrToken",
                "GetAuthrAccessToken",
                "GetAuthrInfo",
            ]
            for suffix in ("", "Context")
        ),
        *(
            f"openplatform.OpenPlatform.{name}"
            for name in ("GetServer", "GetOfficialAccount", "GetMiniProgram", "GetAccountManager")
        ),
        *(f"account.Account.{name}" for name in ("Create", "Bind", "Unbind", "Get")),
    ]
)

_CODE = re.compile(r"`([^`]+)`")


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def table_rows(guide: str) -> list[tuple[list[str], list[str], str]]:
    """(theirs, ours, raw ours cell) for every mapping row of every table in ``guide``."""
    rows: list[tuple[list[str], list[str], str]] = []
    lines = (DOCS / guide).read_text(encoding="utf-8").splitlines()
    for index, line in enumerate(lines):
        if not line.startswith("|") or set(line) <= set("|- "):
            continue
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if following.startswith("|") and set(following) <= set("|- "):
            continue  # a header row
        cells = _cells(line)
        assert len(cells) == 3, f"{guide}: expected 3 cells in {line!r}"
        rows.append((_CODE.findall(cells[0]), _CODE.findall(cells[1]), cells[1]))
    assert rows, f"no table rows found in {guide}"
    return rows


def resolve(name: str) -> object:
    root, *rest = name.split(".")
    obj = OURS_ROOTS[root]
    for part in rest:
        obj = getattr(obj, part)
    return obj


def _public_methods(cls: type) -> set[str]:
    """Public plain methods, inherited ones included; properties and constants are not."""
    return {
        name
        for name, value in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_") and value.__module__.startswith("wechatpy")
    }


def wechatpy_methods() -> set[str]:
    """``Class.method`` for every public method the wechatpy guide must cover."""
    enterprise = pytest.importorskip("wechatpy.enterprise.client.api")
    client_api = pytest.importorskip("wechatpy.client.api")
    component = pytest.importorskip("wechatpy.component")
    names: set[str] = set()
    for cls in (
        enterprise.WeChatTag,
        enterprise.WeChatUser,
        enterprise.WeChatMedia,
        enterprise.WeChatAppChat,
        client_api.WeChatCustomService,
        component.WeChatComponent,
        component.ComponentOAuth,
    ):
        names |= {f"{cls.__name__}.{method}" for method in _public_methods(cls)}
    # Of WeChatMessage, only the customer-service sends (message/custom/send) are in scope.
    message = client_api.WeChatMessage
    for method in _public_methods(message):
        if "_send_custom_message" in inspect.getsource(getattr(message, method)):
            names.add(f"WeChatMessage.{method}")
    return names


@pytest.mark.parametrize("guide", ["wechatpy.md", "silenceper.md"])
def test_every_ours_name_exists(guide: str) -> None:
    for theirs, ours, raw in table_rows(guide):
        assert theirs, f"{guide}: a row without their method name: {raw!r}"
        if not ours:
            assert raw == MISSING, f"{guide}: {theirs}: write {MISSING!r} or a name"
            continue
        for name in ours:
            assert name.split(".")[0] in OURS_ROOTS, f"{guide}: unknown root in {name!r}"
            try:
                resolve(name)
            except AttributeError:  # pragma: no cover - the failure message is the point
                pytest.fail(f"{guide}: {theirs} maps to {name}, which does not exist")


def _listed(guide: str) -> list[str]:
    return [name for theirs, _, _ in table_rows(guide) for name in theirs]


def test_wechatpy_table_lists_every_public_method() -> None:
    listed = _listed("wechatpy.md")
    assert len(listed) == len(set(listed)), "a wechatpy method is listed twice"
    expected = wechatpy_methods()
    assert expected - set(listed) == set(), "wechatpy methods missing from the guide"
    assert set(listed) - expected == set(), "the guide lists methods wechatpy lacks"


def test_wechatpy_scope_is_not_empty() -> None:
    # Guards the introspection: an import path change must not silently shrink the scope.
    methods = wechatpy_methods()
    assert "WeChatTag.create" in methods
    assert "WeChatMessage.send_text" in methods
    assert "WeChatMessage.send_template" not in methods
    assert "WeChatComponent.fetch_access_token" in methods
    assert "WeChatCustomService.get_records" in methods


def test_silenceper_table_covers_its_source() -> None:
    listed = _listed("silenceper.md")
    assert len(listed) == len(set(listed)), "a silenceper method is listed twice"
    assert SILENCEPER_METHODS - set(listed) == set(), "silenceper methods missing from the guide"
    assert set(listed) - SILENCEPER_METHODS == set(), "the guide lists unknown silenceper methods"
