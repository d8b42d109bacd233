"""The exchangeInfo entries that the local filter checks (``filters``) read, cached.

``ExchangeInfoCache`` keeps each symbol's exchangeInfo entry per environment (base URL) for
``DEFAULT_FILTER_TTL_S``; a failed fetch yields ``None`` and the caller sends the order unchecked.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import anyio

from binance_spot_mcp.exchange.filters import symbol_entry

log = logging.getLogger(__name__)

DEFAULT_FILTER_TTL_S = 300.0


class ExchangeInfoCache:
    """Per-environment (base URL) cache of symbols' exchangeInfo entries, with a TTL.

    Concurrent callers for one (base_url, symbol) share a single fetch. A failed fetch returns
    None to everyone waiting on it and is not cached: the next call tries again.
    """

    def __init__(self, ttl_s: float = DEFAULT_FILTER_TTL_S, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._entries: dict[tuple[str, str], tuple[float, Mapping[str, Any]]] = {}
        self._failed_at: dict[tuple[str, str], float] = {}
        self._locks: dict[tuple[str, str], anyio.Lock] = {}

    def _fresh(self, key: tuple[str, str]) -> Mapping[str, Any] | None:
        hit = self._entries.get(key)
        if hit is not None and self._clock() < hit[0]:
            return hit[1]
        return None

    async def get(
        self, base_url: str, symbol: str, fetch: Callable[[], Awaitable[Mapping[str, Any]]]
    ) -> Mapping[str, Any] | None:
        """The symbol's exchangeInfo entry, fetched with ``fetch`` when missing or expired."""
        key = (base_url, symbol)
        hit = self._fresh(key)
        if hit is not None:
            return hit
        asked_at = self._clock()
        lock = self._locks.setdefault(key, anyio.Lock())
        async with lock:
            hit = self._fresh(key)
            if hit is not None:
                return hit
            if self._failed_at.get(key, -math.inf) >= asked_at:
                return None  # the fetch this caller waited for has just failed
            try:
                reply = await fetch()
            except Exception as exc:  # noqa: BLE001 - any failure means "check nothing locally"
                log.warning("exchangeInfo for %s could not be fetched (%s); orders go unchecked",
                            symbol, type(exc).__name__)
                self._failed_at[key] = self._clock()
                return None
            entry = symbol_entry(reply, symbol)
            if entry is None:
                self._failed_at[key] = self._clock()
                return None
            self._entries[key] = (self._clock() + self.ttl_s, entry)
            return entry

    def invalidate(self, base_url: str | None = None, symbol: str | None = None) -> None:
        """Forget cached entries (all, one environment's, or one symbol's)."""
        for key in list(self._entries):
            if (base_url is None or key[0] == base_url) and (symbol is None or key[1] == symbol):
                del self._entries[key]
