"""Tag: request shapes and answers from path/90210-90216, and input checks."""

from __future__ import annotations

import pytest

from tests.wecom.fake_qyapi import FakeQyapi, body, ok, query
from wechat_async.errors import APIError, InvalidArgumentError
from wechat_async.wecom.tag import InvalidMembers, Tag, TagInfo, TagMembers, TagUser

pytestmark = pytest.mark.asyncio


@pytest.fixture
def fake() -> FakeQyapi:
    return FakeQyapi()


async def test_create_with_tagid(fake: FakeQyapi) -> None:
    fake.on("POST", "cgi-bin/tag/create", {"errcode": 0, "errmsg": "created", "tagid": 12})

    assert await fake.service(Tag).create("UI", 12) == 12

    (request,) = fake.requests
    assert request.method == "POST"
    assert request.url.path == "/cgi-bin/tag/create"
    assert query(request) == {"access_token": "TOKEN"}
    assert body(request) == {"tagname": "UI", "tagid": 12}


async def test_create_lets_wechat_choose_the_tagid(fake: FakeQyapi) -> None:
    fake.on("POST", "cgi-bin/tag/create", {"errcode": 0, "errmsg": "created", "tagid": 13})

    assert await fake.service(Tag).create("乒乓球协会" * 6) == 13  # 30 characters, 90 bytes

    assert body(fake.last) == {"tagname": "乒乓球协会" * 6}


async def test_update(fake: FakeQyapi) -> None:
    fake.on("POST", "cgi-bin/tag/update", {"errcode": 0, "errmsg": "updated"})

    await fake.service(Tag).update(12, "UI design")

    assert fake.last.method == "POST"
    assert fake.last.url.path == "/cgi-bin/tag/update"
    assert query(fake.last) == {"access_token": "TOKEN"}
    assert body(fake.last) == {"tagid": 12, "tagname": "UI design"}


async def test_delete(fake: FakeQyapi) -> None:
    fake.on("GET", "cgi-bin/tag/delete", {"errcode": 0, "errmsg": "deleted"})

    await fake.service(Tag).delete(12)

    assert fake.last.method == "GET"
    assert fake.last.url.path == "/cgi-bin/tag/delete"
    assert query(fake.last) == {"tagid": "12", "access_token": "TOKEN"}


async def test_get(fake: FakeQyapi) -> None:
    fake.on(
        "GET",
        "cgi-bin/tag/get",
        ok(
            tagname="乒乓球协会",
            userlist=[{"userid": "zhangsan", "name": "李四"}, {"userid": "wangwu"}],
            partylist=[2],
            future_field=True,
        ),
    )

    tag = await fake.service(Tag).get(12)

    assert tag == TagMembers(
        tagname="乒乓球协会",
        userlist=(TagUser("zhangsan", "李四"), TagUser("wangwu")),
        partylist=(2,),
    )
    assert fake.last.method == "GET"
    assert fake.last.url.path == "/cgi-bin/tag/get"
    assert query(fake.last) == {"tagid": "12", "access_token": "TOKEN"}


async def test_add_users_reports_refused_ids(fake: FakeQyapi) -> None:
    fake.on(
        "POST",
        "cgi-bin/tag/addtagusers",
        ok(invalidlist="usr1|usr2|usr", invalidparty=[2, 4]),
    )

    result = await fake.service(Tag).add_users(12, ["user1", "user2"], [4])

    assert result == InvalidMembers(invalidlist=("usr1", "usr2", "usr"), invalidparty=(2, 4))
    assert fake.last.method == "POST"
    assert fake.last.url.path == "/cgi-bin/tag/addtagusers"
    assert query(fake.last) == {"access_token": "TOKEN"}
    assert body(fake.last) == {"tagid": 12, "userlist": ["user1", "user2"], "partylist": [4]}


async def test_add_users_all_accepted(fake: FakeQyapi) -> None:
    fake.on("POST", "cgi-bin/tag/addtagusers", ok())

    result = await fake.service(Tag).add_users(12, partylist=[4])

    assert result == InvalidMembers()
    assert body(fake.last) == {"tagid": 12, "partylist": [4]}


async def test_del_users(fake: FakeQyapi) -> None:
    fake.on("POST", "cgi-bin/tag/deltagusers", ok(invalidlist="usr1", invalidparty="2|4"))

    result = await fake.service(Tag).del_users(12, userlist=("user1", "usr1"))

    assert result == InvalidMembers(invalidlist=("usr1",), invalidparty=(2, 4))
    assert fake.last.url.path == "/cgi-bin/tag/deltagusers"
    assert body(fake.last) == {"tagid": 12, "userlist": ["user1", "usr1"]}


async def test_all_ids_refused_is_an_api_error(fake: FakeQyapi) -> None:
    fake.on("POST", "cgi-bin/tag/addtagusers", {"errcode": 40070, "errmsg": "all list invalid "})

    with pytest.raises(APIError) as caught:
        await fake.service(Tag).add_users(12, ["ghost"])

    assert type(caught.value) is APIError
    assert caught.value.errcode == 40070
    assert caught.value.path == "cgi-bin/tag/addtagusers"


async def test_list(fake: FakeQyapi) -> None:
    fake.on(
        "GET",
        "cgi-bin/tag/list",
        ok(taglist=[{"tagid": 1, "tagname": "a"}, {"tagid": 2, "tagname": "b"}]),
    )

    assert await fake.service(Tag).list() == (TagInfo(1, "a"), TagInfo(2, "b"))

    assert fake.last.method == "GET"
    assert fake.last.url.path == "/cgi-bin/tag/list"
    assert query(fake.last) == {"access_token": "TOKEN"}


@pytest.mark.parametrize(
    ("tagname", "tagid"),
    [
        ("", None),
        ("   ", None),
        ("x" * 33, None),
        ("乒" * 33, None),
        ("UI", -1),
        ("UI", True),
    ],
)
async def test_create_rejects_before_sending(
    fake: FakeQyapi, tagname: str, tagid: int | None
) -> None:
    with pytest.raises(InvalidArgumentError):
        await fake.service(Tag).create(tagname, tagid)

    assert fake.requests == []


@pytest.mark.parametrize(
    ("userlist", "partylist", "argument"),
    [
        ((), (), "userlist"),
        (["u"] * 1001, (), "userlist"),
        ((), list(range(1, 102)), "partylist"),
        ("zhangsan", (), "userlist"),
        (["zhangsan", ""], (), "userlist"),
    ],
)
async def test_member_changes_reject_before_sending(
    fake: FakeQyapi, userlist: list[str], partylist: list[int], argument: str
) -> None:
    tag = fake.service(Tag)
    for method in (tag.add_users, tag.del_users):
        with pytest.raises(InvalidArgumentError) as caught:
            await method(12, userlist, partylist)
        assert caught.value.argument == argument

    assert fake.requests == []


async def test_limits_themselves_are_allowed(fake: FakeQyapi) -> None:
    fake.on("POST", "cgi-bin/tag/addtagusers", ok())

    await fake.service(Tag).add_users(1, [f"u{i}" for i in range(1000)], list(range(1, 101)))

    assert len(body(fake.last)["userlist"]) == 1000
    assert len(body(fake.last)["partylist"]) == 100
