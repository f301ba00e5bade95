"""User: request shapes and answers from path/90196, 96067, 90200, 90202; paging; checks."""

from __future__ import annotations

import pytest

from tests.wecom.fake_qyapi import FakeQyapi, body, ok, query
from wechat_async.errors import InvalidArgumentError, InvalidResponseError, PermissionDeniedError
from wechat_async.wecom.user import DeptUser, SimpleUser, User, UserIdPage, UserInfo

pytestmark = pytest.mark.asyncio

# Abridged from the path/90196 sample, plus a field the SDK does not know.
USER_SAMPLE = ok(
    userid="zhangsan",
    name="张三",
    department=[1, 2],
    order=[1, 2],
    position="后台工程师",
    mobile="13800000000",
    gender="1",
    email="zhangsan@gzdev.com",
    biz_mail="zhangsan@qyycs2.wecom.work",
    is_leader_in_dept=[1, 0],
    direct_leader=["lisi"],
    avatar="http://wx.qlogo.cn/mmopen/ajNVdqHZLLA3WJ6DSZUfiakYe37PKnQhBIeOQBO4czqrnZDS79FH5Wm5m4X69TBicnHFlhiafvDwklOpZeXYQQ2icg/0",
    thumb_avatar="http://wx.qlogo.cn/mmopen/ajNVdqHZLLA3WJ6DSZUfiakYe37PKnQhBIeOQBO4czqrnZDS79FH5Wm5m4X69TBicnHFlhiafvDwklOpZeXYQQ2icg/100",
    telephone="020-123456",
    alias="jackzhang",
    address="广州市海珠区新港中路",
    open_userid="xxxxxx",
    main_department=1,
    extattr={"attrs": [{"type": 0, "name": "文本名称", "text": {"value": "文本"}}]},
    status=1,
    qr_code="https://open.work.weixin.qq.com/wwopen/userQRCode?vcode=xxx",
    external_position="产品经理",
    external_profile={"external_corp_name": "企业简称", "external_attr": []},
    brand_new_field={"x": 1},
)


@pytest.fixture
def fake() -> FakeQyapi:
    return FakeQyapi()


async def test_get(fake: FakeQyapi) -> None:
    fake.on("GET", "cgi-bin/user/get", USER_SAMPLE)

    user = await fake.service(User).get("zhangsan")

    assert user.userid == "zhangsan"
    assert user.name == "张三"
    assert user.department == (1, 2)
    assert user.is_leader_in_dept == (1, 0)
    assert user.direct_leader == ("lisi",)
    assert user.gender == "1"
    assert user.main_department == 1
    assert user.status == 1
    assert user.extattr == {"attrs": [{"type": 0, "name": "文本名称", "text": {"value": "文本"}}]}
    assert user.external_profile is not None
    assert fake.last.method == "GET"
    assert fake.last.url.path == "/cgi-bin/user/get"
    assert query(fake.last) == {"userid": "zhangsan", "access_token": "TOKEN"}


async def test_get_tolerates_a_sparse_answer(fake: FakeQyapi) -> None:
    # What an app created after 2022-06-20 gets: no sensitive fields at all.
    fake.on("GET", "cgi-bin/user/get", ok(userid="lisi", department=[1]))

    assert await fake.service(User).get("lisi") == UserInfo(userid="lisi", department=(1,))


async def test_list_id(fake: FakeQyapi) -> None:
    fake.on(
        "POST",
        "cgi-bin/user/list_id",
        ok(
            next_cursor="aaaaaaaaa",
            dept_user=[
                {"userid": "zhangsan", "department": 1},
                {"userid": "zhangsan", "department": 2},
                {"userid": "lisi", "department": 2},
            ],
        ),
    )

    page = await fake.service(User).list_id("xxxxxxx", 10000)

    assert page == UserIdPage(
        dept_user=(
            DeptUser(department=1, userid="zhangsan"),
            DeptUser(department=2, userid="zhangsan"),
            DeptUser(department=2, userid="lisi"),
        ),
        next_cursor="aaaaaaaaa",
    )
    assert fake.last.method == "POST"
    assert fake.last.url.path == "/cgi-bin/user/list_id"
    assert query(fake.last) == {"access_token": "TOKEN"}
    assert body(fake.last) == {"cursor": "xxxxxxx", "limit": 10000}


async def test_list_id_first_page_sends_an_empty_body(fake: FakeQyapi) -> None:
    fake.on("POST", "cgi-bin/user/list_id", ok(dept_user=[]))

    assert await fake.service(User).list_id() == UserIdPage()

    assert body(fake.last) == {}


async def test_list_id_third_party_answer(fake: FakeQyapi) -> None:
    fake.on(
        "POST",
        "cgi-bin/user/list_id",
        ok(next_cursor="", dept_user=[{"open_userid": "woAAAAAAAA", "department": 1}]),
    )

    page = await fake.service(User).list_id()

    assert page.dept_user == (DeptUser(department=1, open_userid="woAAAAAAAA"),)


async def test_iter_ids_follows_the_cursor_to_the_end(fake: FakeQyapi) -> None:
    fake.on(
        "POST",
        "cgi-bin/user/list_id",
        ok(next_cursor="c1", dept_user=[{"userid": "a", "department": 1}]),
        ok(
            next_cursor="c2",
            dept_user=[{"userid": "b", "department": 1}, {"userid": "b", "department": 3}],
        ),
        ok(next_cursor="", dept_user=[{"userid": "c", "department": 2}]),
    )

    seen = [(entry.userid, entry.department) async for entry in fake.service(User).iter_ids()]

    assert seen == [("a", 1), ("b", 1), ("b", 3), ("c", 2)]
    assert [body(request) for request in fake.requests] == [
        {"limit": 10000},
        {"cursor": "c1", "limit": 10000},
        {"cursor": "c2", "limit": 10000},
    ]


async def test_iter_ids_stops_on_a_cursor_that_does_not_move(fake: FakeQyapi) -> None:
    fake.on(
        "POST",
        "cgi-bin/user/list_id",
        ok(next_cursor="same", dept_user=[{"userid": "a", "department": 1}]),
    )

    with pytest.raises(InvalidResponseError):
        async for _ in fake.service(User).iter_ids(limit=1):
            pass

    assert len(fake.requests) == 2


async def test_simple_list(fake: FakeQyapi) -> None:
    fake.on(
        "GET",
        "cgi-bin/user/simplelist",
        ok(userlist=[{"userid": "zhangsan", "name": "张三", "department": [1, 2]}]),
    )

    users = await fake.service(User).simple_list(1)

    assert users == (SimpleUser(userid="zhangsan", name="张三", department=(1, 2)),)
    assert fake.last.method == "GET"
    assert fake.last.url.path == "/cgi-bin/user/simplelist"
    # fetch_child is gone from the docs; it is not sent.
    assert query(fake.last) == {"department_id": "1", "access_token": "TOKEN"}


async def test_convert_to_openid(fake: FakeQyapi) -> None:
    fake.on("POST", "cgi-bin/user/convert_to_openid", ok(openid="oDjGHs-1yCnGrRovBj2yHij5JAAA"))

    assert await fake.service(User).convert_to_openid("zhangsan") == "oDjGHs-1yCnGrRovBj2yHij5JAAA"

    assert fake.last.method == "POST"
    assert fake.last.url.path == "/cgi-bin/user/convert_to_openid"
    assert query(fake.last) == {"access_token": "TOKEN"}
    assert body(fake.last) == {"userid": "zhangsan"}


async def test_convert_to_userid(fake: FakeQyapi) -> None:
    fake.on("POST", "cgi-bin/user/convert_to_userid", ok(userid="zhangsan"))

    assert await fake.service(User).convert_to_userid("oDjGHs-1yCnGrRovBj2yHij5JAAA") == "zhangsan"

    assert fake.last.url.path == "/cgi-bin/user/convert_to_userid"
    assert body(fake.last) == {"openid": "oDjGHs-1yCnGrRovBj2yHij5JAAA"}


async def test_errcode_is_mapped(fake: FakeQyapi) -> None:
    fake.on(
        "GET",
        "cgi-bin/user/get",
        {"errcode": 60011, "errmsg": "no privilege to access/modify contact/party/agent"},
    )

    with pytest.raises(PermissionDeniedError) as caught:
        await fake.service(User).get("outsider")

    assert caught.value.errcode == 60011
    assert caught.value.path == "cgi-bin/user/get"


async def test_inputs_rejected_before_sending(fake: FakeQyapi) -> None:
    user = fake.service(User)
    with pytest.raises(InvalidArgumentError):
        await user.get("")
    with pytest.raises(InvalidArgumentError):
        await user.list_id(limit=0)
    with pytest.raises(InvalidArgumentError):
        await user.list_id(limit=10001)
    with pytest.raises(InvalidArgumentError):
        await user.list_id(cursor="")
    with pytest.raises(InvalidArgumentError):
        await anext(user.iter_ids(limit=0))
    with pytest.raises(InvalidArgumentError):
        await user.simple_list(0)
    with pytest.raises(InvalidArgumentError):
        await user.simple_list(department_id=True)
    with pytest.raises(InvalidArgumentError):
        await user.convert_to_openid("")
    with pytest.raises(InvalidArgumentError):
        await user.convert_to_userid("")

    assert fake.requests == []
