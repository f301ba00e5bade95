"""Package shape: what imports what, and what `import wechat_async` costs."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import wechat_async

PACKAGE = Path(wechat_async.__file__).parent


def imported_modules(path: Path) -> set[str]:
    """Modules imported at run time: imports under ``if TYPE_CHECKING:`` do not count."""
    names: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for branch in node.orelse:
                visit(branch)
            return
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text()))
    return names


def test_crypto_and_errors_import_only_stdlib_and_cryptography() -> None:
    allowed_third_party = {"cryptography", "wechat_async"}
    for module in ("crypto.py", "errors.py"):
        for name in imported_modules(PACKAGE / module):
            top = name.split(".")[0]
            assert top in sys.stdlib_module_names or top in allowed_third_party, name
            assert top not in {"asyncio", "httpx", "redis", "socket"}, name


def test_only_the_redis_stores_import_redis() -> None:
    importers = {
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if any(name.split(".")[0] == "redis" for name in imported_modules(path))
    }
    assert importers == {"tokens/redis.py", "consumer_state/redis.py"}


def test_only_the_sqlite_state_imports_sqlite3() -> None:
    importers = {
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if any(name.split(".")[0] == "sqlite3" for name in imported_modules(path))
    }
    assert importers == {"consumer_state/sqlite.py"}


def test_importing_crypto_loads_no_io_stack() -> None:
    code = (
        "import sys, wechat_async.crypto; "
        "bad = {'asyncio', 'httpx', 'redis'} & set(sys.modules); "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)  # noqa: S603


def test_importing_the_package_does_not_load_redis() -> None:
    code = (
        "import sys, wechat_async; "
        "assert 'redis' not in sys.modules, 'redis imported eagerly'; "
        "assert wechat_async.RedisTokenStore.__name__ == 'RedisTokenStore'; "
        "assert 'redis' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)  # noqa: S603


def test_the_consumer_loads_only_the_state_it_uses() -> None:
    code = (
        "import sys; from wechat_async import KfConsumer, MemoryConsumerState, WeCom; "
        "kf = WeCom('ww', 's').kf; "
        "KfConsumer(kf, print, state=MemoryConsumerState()); "
        "assert not {'redis', 'sqlite3'} & set(sys.modules), 'loaded eagerly'; "
        "KfConsumer(kf, print); "
        "assert 'sqlite3' in sys.modules and 'redis' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)  # noqa: S603


def test_every_public_name_resolves() -> None:
    for name in wechat_async.__all__:
        assert getattr(wechat_async, name) is not None, name


def test_sniffio_is_a_dependency_and_importable() -> None:
    """httpcore detects the async library through sniffio; without it every request pays."""
    from importlib.metadata import requires  # noqa: PLC0415

    declared = {
        req.split(">")[0].split("=")[0].split(";")[0].strip()
        for req in requires("wechat-async") or []
    }
    assert "sniffio" in declared
    # In the installed environment, not just in ours: a fresh interpreter imports it.
    result = subprocess.run(
        [sys.executable, "-c", "import sniffio, httpcore; print(sniffio.__name__)"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "sniffio"
