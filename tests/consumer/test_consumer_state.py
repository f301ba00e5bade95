"""The ConsumerState contract, checked on every implementation: memory, SQLite and Redis."""

from __future__ import annotations

import asyncio
import os
import stat
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from tests.redis_server import free_port
from wechat_async import (
    ConsumerState,
    ConsumerStateUnavailableError,
    MemoryConsumerState,
    RedisConsumerState,
    SQLiteConsumerState,
)
from wechat_async.errors import ConfigurationError

KINDS = ["memory", "sqlite", "redis"]
KFID = "wk_contract"


@pytest_asyncio.fixture(params=KINDS)
async def state(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ConsumerState]:
    made: ConsumerState
    client: Redis | None = None
    prefix = ""
    if request.param == "memory":
        made = MemoryConsumerState()
    elif request.param == "sqlite":
        made = SQLiteConsumerState(tmp_path / "state.sqlite3")
    else:
        client = Redis.from_url(request.getfixturevalue("redis_url"))
        prefix = request.getfixturevalue("redis_prefix")
        made = RedisConsumerState(client, prefix=prefix)
    try:
        yield made
    finally:
        await made.aclose()
        if client is not None:
            keys = [key async for key in client.scan_iter(match=f"{prefix}:*")]
            if keys:
                await client.delete(*keys)
            await client.aclose()


@pytest.mark.asyncio
async def test_the_lease_is_exclusive_renewed_and_released_by_its_owner_only(
    state: ConsumerState,
) -> None:
    assert await state.acquire(KFID, "a", 30)
    assert not await state.acquire(KFID, "b", 30)
    assert not await state.extend(KFID, "b", 30)
    await state.release(KFID, "b")  # not b's: stays
    assert not await state.acquire(KFID, "b", 30)
    assert await state.extend(KFID, "a", 30)
    await state.release(KFID, "a")
    assert await state.acquire(KFID, "b", 30)
    assert await state.acquire("wk_other", "a", 30)  # per account


@pytest.mark.asyncio
async def test_a_lapsed_lease_fences_its_holder_out(state: ConsumerState) -> None:
    assert await state.acquire(KFID, "a", 0.3)
    assert await state.seen(KFID, "a", "m1") is False
    await asyncio.sleep(0.4)
    assert await state.seen(KFID, "a", "m1") is None  # a's lease lapsed: stop
    assert not await state.extend(KFID, "a", 30)
    assert await state.acquire(KFID, "b", 30)
    await state.mark(KFID, "m1", 60)  # a's late mark is kept: it can only prevent a repeat
    assert await state.seen(KFID, "b", "m1") is True
    assert await state.seen(KFID, "a", "m1") is None
    assert not await state.commit(KFID, "a", "cursor-a", ["m1"])
    assert await state.load_cursor(KFID) is None
    assert await state.seen(KFID, "b", "m1") is True


@pytest.mark.asyncio
async def test_a_commit_moves_the_cursor_and_forgets_exactly_the_marks_it_covers(
    state: ConsumerState,
) -> None:
    assert await state.acquire(KFID, "a", 30)
    assert await state.load_cursor(KFID) is None
    for msgid in ("m1", "m2", "m3"):
        await state.mark(KFID, msgid, 60)
    await state.mark("wk_other", "m1", 60)
    assert await state.commit(KFID, "a", "cursor-1", ["m1", "m2", "never-marked"])
    assert await state.load_cursor(KFID) == "cursor-1"
    assert [await state.seen(KFID, "a", m) for m in ("m1", "m2", "m3")] == [False, False, True]
    assert await state.acquire("wk_other", "a", 30)
    assert await state.seen("wk_other", "a", "m1") is True  # another account's marks stay
    assert await state.commit(KFID, "a", "cursor-2", [])
    assert await state.load_cursor(KFID) == "cursor-2"


@pytest.mark.asyncio
async def test_a_shorter_ttl_never_cuts_a_mark_short(state: ConsumerState) -> None:
    assert await state.acquire(KFID, "a", 30)
    await state.mark(KFID, "long", 60)
    await state.mark(KFID, "long", 0.01)  # a worker with a short window marks it again
    await state.mark(KFID, "short", 0.01)
    await asyncio.sleep(0.05)
    assert await state.commit(KFID, "a", "cursor", [])  # drops marks past their own ttl
    assert await state.seen(KFID, "a", "long") is True
    assert await state.seen(KFID, "a", "short") is False


@pytest.mark.asyncio
async def test_a_commit_covers_a_large_batch(state: ConsumerState) -> None:
    assert await state.acquire(KFID, "a", 30)
    msgids = [f"m{n}" for n in range(2500)]  # more than one Lua unpack() at a time
    for msgid in msgids[:10]:
        await state.mark(KFID, msgid, 60)
    await state.mark(KFID, "next-page", 60)
    assert await state.commit(KFID, "a", "cursor", msgids)
    assert await state.seen(KFID, "a", "m0") is False
    assert await state.seen(KFID, "a", "next-page") is True


@pytest.mark.asyncio
async def test_the_token_lives_its_ttl(state: ConsumerState) -> None:
    assert await state.load_token(KFID) is None
    await state.save_token(KFID, "token-1", 60)
    assert await state.load_token(KFID) == "token-1"
    await state.save_token(KFID, "token-2", 0.3)
    assert await state.load_token(KFID) == "token-2"
    await asyncio.sleep(0.4)
    assert await state.load_token(KFID) is None


# -- SQLite --------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_two_sqlite_states_on_one_file_share_it_as_two_processes_would(
    tmp_path: Path,
) -> None:
    path = tmp_path / "shared.sqlite3"
    first, second = SQLiteConsumerState(path), SQLiteConsumerState(str(path))
    try:
        assert await first.acquire(KFID, "a", 30)
        assert not await second.acquire(KFID, "b", 30)
        await first.mark(KFID, "m1", 60)
        assert await first.commit(KFID, "a", "cursor-1", [])
        assert await second.load_cursor(KFID) == "cursor-1"
        await first.release(KFID, "a")
        assert await second.acquire(KFID, "b", 30)
        assert await second.seen(KFID, "b", "m1") is True
    finally:
        await first.aclose()
        await second.aclose()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # it holds callback tokens
    reopened = SQLiteConsumerState(path)
    try:
        assert await reopened.load_cursor(KFID) == "cursor-1"
        await reopened.aclose()
        assert await reopened.load_cursor(KFID) == "cursor-1"  # opened again on use
    finally:
        await reopened.aclose()


@pytest.mark.asyncio
async def test_sqlite_runs_off_the_event_loop_on_one_thread(tmp_path: Path) -> None:
    state = SQLiteConsumerState(tmp_path / "state.sqlite3")
    threads: list[int] = []

    def record(db: object) -> None:
        assert db is not None
        threads.append(threading.get_ident())

    try:
        await state._run(record)
        await state.load_cursor(KFID)
        await state._run(record)
    finally:
        await state.aclose()
    assert len(set(threads)) == 1
    assert threads[0] != threading.get_ident()


@pytest.mark.asyncio
async def test_an_unusable_sqlite_file_raises_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "missing-directory" / "state.sqlite3"
    state = SQLiteConsumerState(path)
    with pytest.raises(ConsumerStateUnavailableError, match=r"SQLite file .*missing-directory"):
        await state.load_cursor(KFID)
    await state.aclose()


def test_a_relative_sqlite_path_is_fixed_when_the_state_is_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    state = SQLiteConsumerState()
    assert state.path == os.path.join(tmp_path, "wechat_async_kf.sqlite3")  # noqa: PTH118
    assert repr(state) == f"SQLiteConsumerState(path={state.path!r})"
    for bad in ("", 3, None):
        with pytest.raises(ConfigurationError):
            SQLiteConsumerState(bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        SQLiteConsumerState("x", timeout=0)


# -- Redis ---------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_an_unreachable_redis_raises_an_error_naming_its_address() -> None:
    port = free_port()  # nothing listens there
    client = Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5)
    state = RedisConsumerState(client, prefix="wa-test-unreachable")
    try:
        with pytest.raises(ConsumerStateUnavailableError) as caught:
            await state.load_cursor(KFID)
    finally:
        await client.aclose()
    assert str(caught.value).startswith(f"Redis at 127.0.0.1:{port}: ")
    assert str(caught.value.__cause__) in str(caught.value)  # redis-py's own text, whole
    assert f"Redis at 127.0.0.1:{port}" in repr(state)


def test_a_redis_prefix_must_keep_the_hash_tag_intact(redis_client: Redis) -> None:
    for bad in ("", "a{b", "a}b"):
        with pytest.raises(ConfigurationError):
            RedisConsumerState(redis_client, prefix=bad)
