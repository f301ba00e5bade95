"""Project tasks: ``nox -s tests``, ``lint``, ``typecheck``, ``docs``, ``bench``, ``quickstart``.

Each session installs what it needs from pyproject.toml's dependency groups,
so a fresh machine needs only ``python3 -m pip install nox``.
"""

from __future__ import annotations

import os

import nox

nox.needs_version = ">=2024.10.9"
nox.options.default_venv_backend = "virtualenv"
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True
nox.options.sessions = ["tests", "lint", "typecheck"]

PYPROJECT = nox.project.load_toml("pyproject.toml")
PYTHON = "3.11"


def _install(session: nox.Session, *groups: str) -> None:
    requirements: list[str] = []
    for group in groups:
        requirements += nox.project.dependency_groups(PYPROJECT, group)
    session.install("-e", ".", *requirements)


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Run the whole test suite (warnings are errors)."""
    _install(session, "tests")
    session.run("pytest", *session.posargs, env={"HYPOTHESIS_PROFILE": "ci"})


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """Ruff lint and format check."""
    _install(session, "lint")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the package and the tests."""
    _install(session, "typecheck")
    session.run("mypy", "--strict", "wechat_async", "tests", "benchmarks", "examples")


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """Build the documentation site with warnings as errors (into site/, or a given directory)."""
    _install(session, "docs")
    site_dir = session.posargs[0] if session.posargs else "site"
    session.run("mkdocs", "build", "--strict", "--site-dir", site_dir)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks: ours beside wechatpy in one run, with ratios."""
    _install(session, "bench")
    session.run("python", "benchmarks/crypto_bench.py")
    # Needs a Redis on loopback: --redis-url, default redis://127.0.0.1:6379/0.
    session.run("python", "benchmarks/token_contention.py", *session.posargs)
    # 微信客服 end to end over loopback: callback -> KfConsumer -> handler -> send_msg.
    session.run("python", "benchmarks/kf_throughput.py")
    # 100,000 微信客服 accounts notified once: tasks, memory, Redis connections, leases.
    session.run("python", "benchmarks/kf_scale.py")


@nox.session(python=PYTHON)
def quickstart(session: nox.Session) -> None:
    """The README's main job: a whole 微信客服 conversation against the in-process emulator."""
    session.install("-e", ".")
    session.run("python", "examples/quickstart.py", *session.posargs)


@nox.session(python=PYTHON)
def fuzz(session: nox.Session) -> None:
    """The property and fuzz tests with many more cases than CI runs."""
    _install(session, "tests")
    session.run(
        "pytest",
        "tests/test_crypto_properties.py",
        "tests/test_callbacks.py",
        "tests/test_fuzz_callbacks.py",
        *session.posargs,
        env={"HYPOTHESIS_PROFILE": os.environ.get("HYPOTHESIS_PROFILE", "fuzz")},
    )
