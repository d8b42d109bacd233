"""Fixtures for the tests of the fake exchange."""

from __future__ import annotations

import decimal
from typing import Iterator

import pytest


@pytest.fixture(autouse=True)
def _decimal_context_restored() -> Iterator[None]:
    """ccxt changes the calling thread's decimal context when it rounds an amount (ROUND_HALF_UP, and
    Underflow trapped); put it back, so no later test in this worker (a fake seeding its book, the
    server formatting a price) runs under ccxt's rounding."""
    saved = decimal.getcontext().copy()
    yield
    decimal.setcontext(saved)
