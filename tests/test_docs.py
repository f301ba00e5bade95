"""The guides' code runs: every marked block of docs/guides/*.md, against FakeWeChat in process.

A block is marked by an HTML comment on the line before its fence (not shown on
the site)::

    <!-- docs-test -->
    ```python title="..."
    ...
    ```

``<!-- docs-test: redis -->`` marks a block that needs a real Redis; it gets
``redis_url`` and ``REDIS_PREFIX`` (conftest.py's fixtures; without Redis those
blocks alone are skipped, and in CI the test fails). The marked blocks of one
guide run in order in one namespace, so a later block uses what an earlier one
defined; top-level ``await`` is allowed, and each block runs inside the test's
event loop under a time limit. Every guide starts from the prelude below (its
names are listed at the top of each guide).
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import pkgutil
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

import wechat_async
from wechat_async import MessageCrypto, WeCom
from wechat_async.testing import FakeWeChat

ROOT = Path(__file__).resolve().parents[1]
GUIDES = ROOT / "docs" / "guides"
BLOCK_TIMEOUT = 30.0

# The guides whose code must execute (each needs at least one marked block).
MUST_RUN = {"getting-started", "tokens", "callbacks", "consumer", "testing", "errors", "security"}

_MARKED = re.compile(
    r"^<!-- docs-test(?::\s*(?P<needs>[\w, ]+))? -->\n"
    r"```python[^\n]*\n(?P<code>.*?)^```\s*$",
    re.MULTILINE | re.DOTALL,
)

# What every guide's samples may use without defining it (the guides say so).
CALLBACK_TOKEN = "QDG6eK"
ENCODING_AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"


@dataclass(frozen=True)
class Block:
    guide: str
    line: int
    code: str
    needs: frozenset[str]


def blocks(path: Path) -> list[Block]:
    text = path.read_text(encoding="utf-8")
    found = []
    for match in _MARKED.finditer(text):
        needs = frozenset(n.strip() for n in (match.group("needs") or "").split(",") if n.strip())
        line = text.count("\n", 0, match.start("code")) + 1
        found.append(Block(path.stem, line, match.group("code"), needs))
    return found


def guides() -> list[Path]:
    return sorted(GUIDES.glob("*.md"))


def test_the_required_guides_have_running_code() -> None:
    running = {path.stem for path in guides() if blocks(path)}
    assert running >= MUST_RUN, f"guides without a marked block: {sorted(MUST_RUN - running)}"


def test_markers_are_only_on_python_blocks() -> None:
    for path in guides():
        text = path.read_text(encoding="utf-8")
        markers = len(re.findall(r"^<!-- docs-test", text, re.MULTILINE))
        assert markers == len(blocks(path)), f"{path.name}: a marker not before a python block"


def prelude(fake: FakeWeChat) -> dict[str, Any]:
    """The names a guide's samples start with: an emulator and a WeCom app on it."""
    crypto = MessageCrypto(CALLBACK_TOKEN, ENCODING_AES_KEY, receive_id=fake.corp_id)
    transport = fake.transport()
    return {
        "__name__": "__docs__",
        "fake": fake,
        "transport": transport,
        "crypto": crypto,
        "wecom": WeCom(fake.corp_id, fake.corp_secrets[0], transport=transport, crypto=crypto),
        "appid": fake.appid,
        "secret": fake.secret,
        "corp_id": fake.corp_id,
        "corp_secret": fake.corp_secrets[0],
        "CALLBACK_TOKEN": CALLBACK_TOKEN,
        "ENCODING_AES_KEY": ENCODING_AES_KEY,
    }


async def run_block(block: Block, namespace: dict[str, Any]) -> None:
    # Leading blank lines keep the traceback's line numbers those of the .md file.
    source = "\n" * (block.line - 1) + block.code
    code = compile(
        source, f"docs/guides/{block.guide}.md", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    )
    result = eval(code, namespace)  # noqa: S307 - the guides' own code, which is the point
    if inspect.iscoroutine(result):
        async with asyncio.timeout(BLOCK_TIMEOUT):
            await result


@pytest.mark.parametrize("path", guides(), ids=lambda path: path.stem)
@pytest.mark.asyncio
async def test_guide_code_runs(
    path: Path, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # a KfConsumer's default state is a file in the cwd
    marked = blocks(path)
    if not marked:
        pytest.skip(f"{path.name} has no marked code")
    namespace = prelude(FakeWeChat())
    with_redis = any("redis" in block.needs for block in marked)
    if with_redis:
        try:
            namespace["redis_url"] = request.getfixturevalue("redis_url")
            namespace["REDIS_PREFIX"] = request.getfixturevalue("redis_prefix")
        except pytest.skip.Exception:  # no Redis here (CI fails instead): skip those blocks only
            with_redis = False
    try:
        for block in marked:
            if "redis" not in block.needs or with_redis:
                await run_block(block, namespace)
    finally:
        await namespace["transport"].aclose()
        if with_redis:
            await delete_keys(namespace["redis_url"], namespace["REDIS_PREFIX"])


async def delete_keys(url: str, prefix: str) -> None:
    client = Redis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


def test_every_python_block_in_the_guides_runs() -> None:
    for path in guides():
        text = path.read_text(encoding="utf-8")
        fences = len(re.findall(r"^```python", text, re.MULTILINE))
        assert fences == len(blocks(path)), (
            f"{path.name}: a python block without a docs-test marker"
        )


def test_every_public_module_is_in_the_api_reference() -> None:
    rendered: set[str] = set()
    for page in (ROOT / "docs" / "reference").glob("*.md"):
        rendered.update(re.findall(r"^::: ([\w.]+)\s*$", page.read_text("utf-8"), re.MULTILINE))
    public = {
        info.name
        for info in pkgutil.walk_packages(wechat_async.__path__, "wechat_async.")
        if not any(part.startswith("_") for part in info.name.split("."))
    }
    assert public - rendered == set(), "public modules missing from docs/reference/*.md"
