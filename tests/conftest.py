"""Shared pytest fixtures: the anyio backend and a running fake Binance exchange."""

from __future__ import annotations

from typing import Iterator

import pytest

from tests.fake_binance import RunningFake, running_fake


@pytest.fixture
def anyio_backend() -> str:
    """Run anyio-marked tests on asyncio only."""
    return "asyncio"


@pytest.fixture
def fake_exchange() -> Iterator[RunningFake]:
    """A fresh fake Binance Spot exchange served on 127.0.0.1 (ephemeral port)."""
    with running_fake() as fake:
        yield fake
