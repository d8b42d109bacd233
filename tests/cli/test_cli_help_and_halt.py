"""Small command-line truths: ``--help`` names every toolset the skill declares (``streams``
was missing), and a second ``halt`` says which halt it replaces instead of doing so silently."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from binance_spot_mcp.catalog.endpoints import load_catalog
from tests.e2e_support import console_script


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(tmp_path), "BINANCE_SPOT_MCP_JOURNAL": str(tmp_path / "state" / "journal.jsonl")}
    return subprocess.run([console_script(), *args], capture_output=True, text=True, timeout=60, env=env,
                          cwd=tmp_path, check=False)


def test_help_lists_every_toolset(tmp_path: Path):
    done = _run(tmp_path, "--help")
    assert done.returncode == 0
    text = " ".join(done.stdout.split())
    listed = text[text.index("comma-separated toolsets to offer (") :].split(";")[0]
    for name in load_catalog().toolsets:
        assert name in listed, name
    assert "streams" in listed


def test_a_second_halt_names_the_halt_it_replaces(tmp_path: Path):
    first = _run(tmp_path, "halt", "--reason", "flash crash")
    assert first.returncode == 0 and "already halted" not in first.stdout
    second = _run(tmp_path, "halt", "--reason", "maintenance")
    assert second.returncode == 0
    assert "Trading was already halted since " in second.stdout and "(reason: flash crash)" in second.stdout
    halt_file = tmp_path / "state" / "HALT"
    assert "maintenance" in halt_file.read_text()
    assert _run(tmp_path, "resume").returncode == 0 and not halt_file.exists()
