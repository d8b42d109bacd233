"""Tests run in parallel and never touch the real state: each has its own home, state and config
directories (tests/conftest.py, ``own_state``), and a test after which the real state directory
changed fails."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from binance_spot_mcp.config import default_config_dir, default_journal_file, load_settings
from tests.conftest import _PROCESS_HOME as PROCESS_HOME
from tests.conftest import REAL_STATE_DIRS

ROOT = Path(__file__).resolve().parents[2]

LEAKING_TEST = '''
import os
from pathlib import Path


def test_writes_where_it_must_not():
    target = Path(os.environ["LEAK_TARGET"])
    target.mkdir(parents=True, exist_ok=True)
    (target / "journal.jsonl").write_text("{}\\n")
'''


def test_the_default_journal_halt_file_and_config_dir_are_the_tests_own(own_state: Path, tmp_path: Path):
    settings = load_settings(tools_file=str(tmp_path / "TOOLS.md"))
    for path in (default_journal_file(), settings.journal_file, settings.halt_file, default_config_dir()):
        assert path.is_relative_to(own_state), path
        assert not any(path.is_relative_to(real) for real in REAL_STATE_DIRS), path
    assert not any(name.startswith("BINANCE_") for name in os.environ)


@pytest.mark.parametrize("turn", range(3))
def test_two_tests_never_share_a_state_directory(own_state: Path, turn: int):
    # each turn leaves a journal where the default one goes; a directory shared with an earlier
    # test (of this worker, or of this process when run serially) would still hold it
    journal = default_journal_file()
    assert journal.is_relative_to(own_state) and not journal.exists()
    assert list(own_state.iterdir()) == []
    journal.parent.mkdir(parents=True)
    journal.write_text(f"turn {turn}\n")


@pytest.fixture(scope="session")
def home_at_session_start() -> str:
    return os.environ["HOME"]


def test_session_fixtures_already_see_the_processes_own_home(home_at_session_start: str, pytestconfig):
    process_home = pytestconfig.stash[PROCESS_HOME]
    assert Path(home_at_session_start) == process_home
    assert not any(real.is_relative_to(process_home) for real in REAL_STATE_DIRS)


def test_a_test_that_writes_to_the_real_state_directory_fails(tmp_path: Path):
    # a suite run by a user whose home is ``real``: the leaking test writes into real's state dir
    real = tmp_path / "real"
    (real / ".local" / "state").mkdir(parents=True)
    leaking = tmp_path / "test_leak.py"
    leaking.write_text(LEAKING_TEST)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(real),
        "PYTHONPATH": str(ROOT),
        "LEAK_TARGET": str(real / ".local" / "state" / "binance-spot-mcp"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.conftest",
         "--rootdir", str(tmp_path), "-c", os.devnull, str(leaking)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "wrote to the real state" in done.stdout
    assert str(real / ".local" / "state" / "binance-spot-mcp") in done.stdout
