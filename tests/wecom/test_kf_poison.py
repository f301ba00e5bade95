"""One odd item of a sync_msg page never fails the page: it is kept as UnknownKfMessage.

The property test takes a valid item of every msgtype and event type the SDK
models (WeChat's documented examples in kf_samples), perturbs the shape of its
fields and puts it between two good items: ``sync_msg`` must return all three,
the good ones typed, the perturbed one typed or an `UnknownKfMessage` with
its raw dict, and must never raise.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import typing
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import attrs
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.wecom import kf_samples
from wechat_async.errors import InvalidResponseError
from wechat_async.tokens import StaticToken
from wechat_async.transport import Hosts, RetryPolicy, Transport
from wechat_async.wecom.kf import Kf
from wechat_async.wecom.kf_messages import (
    ChannelsShopOrderMessage,
    EventMessage,
    KfEvent,
    MergedMessage,
    SyncedMessage,
    SyncMsgResult,
    TextMessage,
    UnknownKfEvent,
    UnknownKfMessage,
)

HOSTS = Hosts(official="https://official.test", work="https://work.test", official_standby=())
# Customer content that must never reach a log line.
SECRET = "客户的秘密 customer-secret-4711"

MESSAGE_TYPES: dict[str, type[Any]] = {
    cls.msgtype: cls for cls in typing.get_args(SyncedMessage) if cls is not UnknownKfMessage
}
EVENT_TYPES: dict[str, type[Any]] = {
    cls.event_type: cls for cls in typing.get_args(KfEvent) if cls is not UnknownKfEvent
}


def _samples() -> dict[str, dict[str, Any]]:
    """One documented item per msgtype and per event type, keyed "text", "event:enter_session"."""
    found: dict[str, dict[str, Any]] = {}
    for item in kf_samples.SYNC_MSG["msg_list"]:
        key = item["msgtype"]
        if key == "event":
            key = f"event:{item['event']['event_type']}"
        found.setdefault(key, item)
    return found


SAMPLES = _samples()
GOOD_BEFORE = {
    "msgid": "good-before",
    "origin": 3,
    "msgtype": "text",
    "text": {"content": "before"},
}
GOOD_AFTER = {
    "msgid": "good-after",
    "origin": 4,
    "msgtype": "event",
    "event": {"event_type": "user_recall_msg", "recall_msgid": "r1"},
}


def test_every_modelled_type_has_a_sample() -> None:
    expected = {name for name in MESSAGE_TYPES if name != "event"}
    expected |= {f"event:{name}" for name in EVENT_TYPES}
    assert set(SAMPLES) == expected


# -- a page through Kf.sync_msg and httpx.MockTransport ------------------------------------


class Logged(logging.Handler):
    """Keeps every record of ``wechat_async`` while installed."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def text(self) -> str:
        return "\n".join(self.format(r) for r in self.records)


def sync_page(msg_list: list[Any] | str) -> tuple[SyncMsgResult, Logged]:
    """``Kf.sync_msg`` answered with a page holding ``msg_list`` (or that JSON text as is)."""
    items = msg_list if isinstance(msg_list, str) else json.dumps(msg_list, ensure_ascii=False)
    body = f'{{"errcode":0,"errmsg":"ok","next_cursor":"c1","has_more":0,"msg_list":{items}}}'

    def answer(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body.encode(), headers={"content-type": "json"})

    async def call() -> SyncMsgResult:
        async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
            transport = Transport(client, hosts=HOSTS, retry=RetryPolicy.no_wait())
            return await Kf(transport, StaticToken("ACCESS")).sync_msg(token="TOKEN")

    logged = Logged()
    logger = logging.getLogger("wechat_async")
    logger.addHandler(logged)
    level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        return asyncio.run(call()), logged
    finally:
        logger.removeHandler(logged)
        logger.setLevel(level)


def assert_good_neighbours(page: SyncMsgResult) -> None:
    assert len(page.msg_list) == 3
    before, _, after = page.msg_list
    assert isinstance(before, TextMessage)
    assert (before.msgid, before.text.content) == ("good-before", "before")
    assert isinstance(after, EventMessage)
    assert after.msgid == "good-after"
    assert page.next_cursor == "c1"


def unparsed_warnings(logged: Logged) -> list[logging.LogRecord]:
    return [
        r
        for r in logged.records
        if r.name == "wechat_async.wecom"
        and r.levelno == logging.WARNING
        and "UnknownKfMessage" in r.getMessage()
    ]


# -- the two shapes the issue names ----------------------------------------------------------


def test_merged_msg_whose_msg_content_is_an_object_is_kept_raw() -> None:
    odd = copy.deepcopy(SAMPLES["merged_msg"])
    odd["merged_msg"]["item"][0]["msg_content"] = {"text": {"content": SECRET}}
    page, logged = sync_page([GOOD_BEFORE, odd, GOOD_AFTER])
    assert_good_neighbours(page)
    kept = page.msg_list[1]
    assert isinstance(kept, UnknownKfMessage)
    assert not isinstance(kept, MergedMessage)
    assert kept.raw == odd
    assert (kept.msgid, kept.msgtype) == ("m13", "merged_msg")
    assert kept.reason == "merged_msg.item[0].msg_content: TypeError"
    [warning] = unparsed_warnings(logged)
    assert "m13" in warning.getMessage()
    assert "merged_msg" in warning.getMessage()
    assert "TypeError" in warning.getMessage()
    assert SECRET not in logged.text()


def test_channels_shop_order_whose_product_titles_is_a_list_is_kept_raw() -> None:
    odd = copy.deepcopy(SAMPLES["channels_shop_order"])
    odd["channels_shop_order"]["product_titles"] = [SECRET, "商品标题2"]
    page, logged = sync_page([GOOD_BEFORE, odd, GOOD_AFTER])
    assert_good_neighbours(page)
    kept = page.msg_list[1]
    assert isinstance(kept, UnknownKfMessage)
    assert not isinstance(kept, ChannelsShopOrderMessage)
    assert kept.raw == odd
    assert kept.msgid == "m12"
    assert kept.reason == "channels_shop_order.product_titles: TypeError"
    assert len(unparsed_warnings(logged)) == 1
    assert SECRET not in logged.text()


def test_a_known_event_of_the_wrong_shape_is_kept_raw() -> None:
    odd = copy.deepcopy(SAMPLES["event:msg_send_fail"])
    odd["event"]["fail_type"] = SECRET  # a number belongs here: int() puts the value in its error
    not_an_object = {**SAMPLES["event:enter_session"], "msgid": "m16b", "event": [SECRET]}
    page, logged = sync_page([GOOD_BEFORE, odd, not_an_object, GOOD_AFTER])
    before, first, second, after = page.msg_list
    assert_good_neighbours(attrs.evolve(page, msg_list=(before, first, after)))
    assert isinstance(first, UnknownKfMessage)
    assert (first.raw, first.msgtype, first.reason) == (odd, "event", "event.fail_type: ValueError")
    assert isinstance(second, UnknownKfMessage)
    assert (second.msgid, second.reason) == ("m16b", "event: TypeError")
    assert len(unparsed_warnings(logged)) == 2
    assert SECRET not in logged.text()


def test_a_number_too_large_for_a_float_in_one_item_does_not_fail_the_page() -> None:
    """1e400 is valid JSON: the reply is read (as infinity), and only its item is odd."""
    odd = copy.deepcopy(SAMPLES["text"])
    body = json.dumps([GOOD_BEFORE, odd, GOOD_AFTER]).replace(
        f'"send_time": {odd["send_time"]}', '"send_time": 1e400', 1
    )
    assert "1e400" in body
    page, _ = sync_page(body)
    assert_good_neighbours(page)
    kept = page.msg_list[1]
    assert isinstance(kept, UnknownKfMessage)
    assert kept.msgid == odd["msgid"]


def test_items_that_are_not_objects_are_kept_and_a_broken_msg_list_is_refused() -> None:
    int_msgid = {"msgid": 4711, "msgtype": "text", "text": {"content": ["x"]}}
    page, logged = sync_page([GOOD_BEFORE, [SECRET], None, "text", 7, int_msgid, GOOD_AFTER])
    messages = page.msg_list
    assert len(messages) == 7
    for kept in messages[1:5]:
        assert isinstance(kept, UnknownKfMessage)
        assert kept.raw == {}
        assert kept.msgid is None
        assert kept.reason is not None
        assert "not an object" in kept.reason
    last_odd = messages[5]
    assert isinstance(last_odd, UnknownKfMessage)
    assert last_odd.msgid == "4711"  # a typed message would hold it as text too: one dedup key
    assert len(unparsed_warnings(logged)) == 5
    assert SECRET not in logged.text()
    for broken in ("text", {"0": GOOD_BEFORE}, None):
        with pytest.raises(InvalidResponseError):
            sync_page(broken)  # type: ignore[arg-type]


# -- the property: any field of any type, perturbed --------------------------------------------


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every key path inside ``value``, nested objects and lists included."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield (*prefix, key)
            yield from paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield (*prefix, index)
            yield from paths(child, (*prefix, index))


def container_paths(value: Any) -> list[tuple[Any, ...]]:
    """The top level and every object inside ``value``: where a field can be added."""
    found: list[tuple[Any, ...]] = [()]
    found.extend(p for p in paths(value) if isinstance(lookup(value, p), dict))
    return found


def lookup(value: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([10**400, -(2**64), 2**63]),  # beyond float / int64, still valid JSON
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.just(SECRET),
)
garbage: st.SearchStrategy[Any] = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=12,
)
odd_values = st.one_of(
    st.just({}),
    st.just([]),
    st.just({"content": SECRET}),
    st.just([SECRET, SECRET]),
    st.just(SECRET * 5_000),  # a huge string
    json_scalars,
    garbage,
)


@st.composite
def perturbed(draw: st.DrawFn, item: dict[str, Any]) -> dict[str, Any]:
    """``item`` with one to three fields replaced, dropped or added."""
    item = copy.deepcopy(item)
    for _ in range(draw(st.integers(1, 3))):
        action = draw(st.sampled_from(["replace", "drop", "add"]))
        existing = list(paths(item))
        if action == "add" or not existing:
            where = lookup(item, draw(st.sampled_from(container_paths(item))))
            where[draw(st.text(min_size=1, max_size=8))] = copy.deepcopy(
                draw(odd_values)
            )  # st.just hands out one shared object
            continue
        path = draw(st.sampled_from(existing))
        parent = lookup(item, path[:-1])
        if action == "drop":
            del parent[path[-1]]
        else:
            parent[path[-1]] = copy.deepcopy(
                draw(odd_values)
            )  # st.just hands out one shared object
    return item


def expected_type(item: dict[str, Any]) -> type[Any]:
    msgtype = item.get("msgtype")
    return (
        MESSAGE_TYPES.get(msgtype, UnknownKfMessage)
        if isinstance(msgtype, str)
        else UnknownKfMessage
    )


def expected_event_type(item: dict[str, Any]) -> type[Any]:
    event = item.get("event")
    name = event.get("event_type") if isinstance(event, dict) else None
    return EVENT_TYPES.get(name, UnknownKfEvent) if isinstance(name, str) else UnknownKfEvent


def usable_msgid(item: dict[str, Any]) -> str | None:
    """The dedup key an item's msgid gives: text as is, an integer as text, else none."""
    msgid = item.get("msgid", "")
    if isinstance(msgid, int) and not isinstance(msgid, bool):
        return str(msgid)
    return msgid if isinstance(msgid, str) else None


@settings(deadline=timedelta(seconds=5), suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), name=st.sampled_from(sorted(SAMPLES)))
def test_a_perturbed_item_never_fails_its_page(data: st.DataObject, name: str) -> None:
    odd = data.draw(perturbed(SAMPLES[name]), label="item")
    page, logged = sync_page([GOOD_BEFORE, odd, GOOD_AFTER])

    assert_good_neighbours(page)
    kept = page.msg_list[1]
    wanted = expected_type(odd)
    if isinstance(kept, UnknownKfMessage):
        assert kept.raw == odd
        if wanted is not UnknownKfMessage:  # a known msgtype that did not parse
            assert kept.reason is not None
            assert len(unparsed_warnings(logged)) == 1
        if "msgid" in odd:
            assert kept.msgid == usable_msgid(odd)
    else:
        assert type(kept) is wanted
        # A msgid that is not text or a number would be a made-up dedup key ("None"):
        # such an item is never typed.
        assert kept.msgid == usable_msgid(odd)
        if isinstance(kept, EventMessage):
            assert type(kept.event) is expected_event_type(odd)
        assert not unparsed_warnings(logged)
    if SECRET not in str(odd.get("msgid")):  # the msgid is logged (cut to 64 characters)
        assert SECRET not in logged.text()
