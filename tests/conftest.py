"""Shared pytest fixtures: each test's own state (home, state and config directories, umask, no
inherited BINANCE_* settings), the anyio backend and a running fake Binance exchange.

Tests run in parallel (pytest-xdist), so nothing a test writes may be shared: each pytest process
(every xdist worker) gets a home, an XDG state directory (the default journal and halt file live
there) and an XDG config directory of its own from the start, so session fixtures and collection
use them too; and each test gets another set of its own. A tripwire fails any test after which
the real state or config directory of the user running the suite has changed."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

from tests.fake_binance import RunningFake, running_fake

APP_DIR = "binance-spot-mcp"
# The real directories, found once by the first pytest process and handed to its xdist workers
# (which start with the private home pytest_configure set, not the user's).
REAL_DIRS_ENV = "TESTS_REAL_STATE_DIRS"


def _xdg_dir(variable: str, fallback: str) -> Path:
    """Where this user's real XDG directory is, by the rules config.py follows."""
    value = os.environ.get(variable, "").strip()
    if value and Path(value).expanduser().is_absolute():
        return Path(value).expanduser()
    return Path(os.environ.get("HOME") or Path.home()) / fallback


def _real_state_dirs() -> tuple[Path, ...]:
    known = os.environ.get(REAL_DIRS_ENV)
    if known:
        return tuple(Path(p) for p in known.split(os.pathsep))
    found = (_xdg_dir("XDG_STATE_HOME", ".local/state") / APP_DIR, _xdg_dir("XDG_CONFIG_HOME", ".config") / APP_DIR)
    os.environ[REAL_DIRS_ENV] = os.pathsep.join(str(p) for p in found)
    return found


REAL_STATE_DIRS = _real_state_dirs()
_PROCESS_HOME = pytest.StashKey[Path]()


def _point_home_at(home: Path, env: pytest.MonkeyPatch | None = None) -> None:
    for name, value in (("HOME", home), ("XDG_STATE_HOME", home / ".local" / "state"), ("XDG_CONFIG_HOME", home / ".config")):
        if env is None:
            os.environ[name] = str(value)
        else:
            env.setenv(name, str(value))


def pytest_configure(config: pytest.Config) -> None:
    """This process's own home, before collection and before any session fixture runs."""
    home = Path(tempfile.mkdtemp(prefix="binance-spot-mcp-tests-home-"))
    config.stash[_PROCESS_HOME] = home
    _point_home_at(home)


def pytest_unconfigure(config: pytest.Config) -> None:
    home = config.stash.get(_PROCESS_HOME, None)
    if home is not None:
        shutil.rmtree(home, ignore_errors=True)


def pytest_make_parametrize_id(config: pytest.Config, val: object, argname: str) -> str | None:
    r"""A text parameter pytest would show with a backslash (``\u202e``, ``\x00``) is shown
    with ``^`` instead (``^u202e``): mutmut re-runs tests by id in one process, and an id holding a
    backslash is escaped again on each run, so it is never found and its mutants count as killed.
    Other values keep pytest's own ids."""
    if not isinstance(val, str):
        return None
    shown = val.encode("unicode_escape").decode("ascii")
    return shown.replace("\\", "^") if "\\" in shown else None



def _snapshot(directory: Path) -> tuple[tuple[str, int, int], ...] | None:
    if not directory.exists():
        return None
    return tuple(sorted(
        (str(p.relative_to(directory)), p.stat().st_size, p.stat().st_mtime_ns) for p in directory.rglob("*") if p.is_file()
    ))


@pytest.fixture(autouse=True)
def own_state(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A home and XDG state/config directories of this test's own, and none of the caller's
    BINANCE_* variables: the default journal and halt file land in a directory nobody else uses.
    Fails the test when the real state or config directory changed while it ran."""
    home = tmp_path_factory.mktemp("home")
    for name in list(os.environ):
        if name.startswith("BINANCE_"):
            monkeypatch.delenv(name)
    _point_home_at(home, monkeypatch)
    before = [_snapshot(d) for d in REAL_STATE_DIRS]
    yield home
    changed = [str(d) for d, seen in zip(REAL_STATE_DIRS, before) if _snapshot(d) != seen]
    if changed:
        pytest.fail(f"this test (or one running beside it) wrote to the real state: {', '.join(changed)}")


@pytest.fixture(autouse=True)
def private_umask() -> Iterator[None]:
    """Files a test writes are 0600, as a careful user's would be: TOOLS.md and key files that
    other users can read are refused (safe_files). Tests of that rule chmod explicitly."""
    old = os.umask(0o077)
    yield
    os.umask(old)


@pytest.fixture
def anyio_backend() -> str:
    """Run anyio-marked tests on asyncio only."""
    return "asyncio"


@pytest.fixture
def fake_exchange() -> Iterator[RunningFake]:
    """A fresh fake Binance Spot exchange served on 127.0.0.1 (ephemeral port)."""
    with running_fake() as fake:
        yield fake


@pytest.fixture(scope="session")
def keys():
    """Throwaway HMAC, RSA and Ed25519 credentials for the whole test session."""
    from tests.e2e_support import make_keys

    return make_keys()


@pytest.fixture
def world(tmp_path, fake_exchange, keys):
    """A TOOLS.md with accounts main (HMAC, testnet), rsa (testnet), ed (demo) and live (mainnet),
    all registered at a fresh fake exchange."""
    from tests.e2e_support import write_world

    return write_world(tmp_path, fake_exchange, keys)


@pytest.fixture
def cli_isolation(monkeypatch, tmp_path):
    """For tests that run the CLI in-process: no BINANCE_* variables from the caller's environment,
    the audit journal in the test's folder, and the logging set-up that main() installs undone."""
    for name in list(os.environ):
        if name.startswith("BINANCE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("BINANCE_SPOT_MCP_JOURNAL", str(tmp_path / "journal.jsonl"))
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
