"""Shared pytest fixtures: the anyio backend and a running fake Binance exchange."""

from __future__ import annotations

import logging
import os
from typing import Iterator

import pytest

from tests.fake_binance import RunningFake, running_fake


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
