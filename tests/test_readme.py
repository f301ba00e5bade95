"""The README's set-up block stays what CI runs: the main job, then the test suite."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def setup_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Set up", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert block is not None
    return [
        line.strip()
        for line in block.group(1).splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]


def test_two_set_up_commands_main_job_then_tests() -> None:
    first, second = setup_commands()
    assert first.endswith("python3 -m nox -s quickstart")
    assert second.endswith("python3 -m nox -s tests")
    for command in (first, second):
        assert command.startswith("python3 -m pip install --upgrade nox && ")


def test_ci_runs_the_readme_commands() -> None:
    script = (ROOT / ".ci" / "run").read_text()
    assert "## Set up" in script
    assert 'bash -c "$command"' in script
