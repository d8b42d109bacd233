"""Bringing the local trade history up to date: ``myTrades`` by ``fromId``, symbol by symbol.

``myTrades`` needs a symbol, so the caller names the candidates (held assets against the quote
assets Binance lists, symbols already cached, the journal's, the caller's own). Each symbol is
read from its checkpoint in pages of 1,000 (``fromId`` = last id + 1): a symbol with ``n`` new
trades costs ``n // 1000 + 1`` requests, the least ``fromId`` paging allows.

Rate-limit discipline: the sync may use only ``share`` of the host's planned REQUEST_WEIGHT
budget per window, counted by the client's limiter (which also adopts the weight Binance reports
for this IP). When the next page would cross that share, it waits for the next window, so the
trading calls beside it always find the rest of the budget; the limiter itself never lets a
request through that would cross the whole budget, so the sync cannot cause a 429.

Each page and its checkpoint are saved together: a sync stopped anywhere resumes where it was.
Requests go through the runtime's client with the account (never signed here).
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

import anyio

from binance_spot_mcp.catalog.endpoints import Endpoint
from binance_spot_mcp.errors import ExchangeError
from binance_spot_mcp.exchange.client import BinanceClient, Credentials
from binance_spot_mcp.exchange.limits import REQUEST_WEIGHT
from binance_spot_mcp.portfolio.cache import TradeCache
from binance_spot_mcp.portfolio.costs import Fill
from binance_spot_mcp.portfolio.pricing import to_decimal

PAGE = 1000
DEFAULT_SHARE = 0.5
WINDOW_S = 60
INVALID_SYMBOL = -1121

Progress = Callable[[float, float | None, str], Awaitable[None]]


class Account(Credentials, Protocol):
    """What the sync needs of an account: its credentials and where it sends."""

    @property
    def base_url(self) -> str: ...


@dataclass(frozen=True)
class Candidate:
    symbol: str
    base: str
    quote: str


@dataclass
class SyncReport:
    symbols: int = 0
    requests: int = 0
    new_trades: int = 0
    waited_s: float = 0.0
    skipped: list[str] = field(default_factory=list)  # symbols Binance no longer knows


def minimum_requests(new_trades: Sequence[int], page: int = PAGE) -> int:
    """The fewest ``myTrades`` requests ``fromId`` paging allows for these per-symbol counts (a
    page shorter than ``page`` is the last; a symbol with none still needs one request to know)."""
    return sum(n // page + 1 for n in new_trades)


class TradeSync:
    """Fetches new trades into the cache within a share of the request-weight budget."""

    def __init__(
        self,
        client: BinanceClient,
        endpoint: Endpoint,
        cache: TradeCache,
        *,
        share: float = DEFAULT_SHARE,
        page: int = PAGE,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        if not 0 < share <= 1:
            raise ValueError("share must be in (0, 1]")
        self.client, self.endpoint, self.cache = client, endpoint, cache
        if not 1 <= page <= PAGE:
            raise ValueError(f"page must be in 1..{PAGE}")
        self.share, self.page, self.clock, self.sleep = share, page, clock, sleep

    def allowance(self, base_url: str) -> int:
        """The weight per minute window this sync may use on ``base_url``."""
        for limit in self.client.limiter.limits(base_url):
            if limit["rateLimitType"] == REQUEST_WEIGHT and limit["intervalSeconds"] == WINDOW_S:
                return max(1, math.floor(int(limit["budget"]) * self.share))
        return 1

    async def run(
        self, account: Account, identity: str, candidates: Sequence[Candidate], progress: Progress | None = None
    ) -> SyncReport:
        report = SyncReport(symbols=len(candidates))
        checkpoints = await self.cache.store.run(lambda: self.cache.checkpoints(identity))
        for done, candidate in enumerate(candidates):
            if progress is not None:
                await progress(done, len(candidates), f"trades of {candidate.symbol}")
            start = checkpoints[candidate.symbol].next_from_id if candidate.symbol in checkpoints else 0
            await self._symbol(account, identity, candidate, start, report)
        if progress is not None:
            await progress(len(candidates), len(candidates), "trade history up to date")
        return report

    async def _symbol(self, account: Account, identity: str, candidate: Candidate, from_id: int, report: SyncReport) -> None:
        while True:
            params = [("symbol", candidate.symbol), ("fromId", str(from_id)), ("limit", str(self.page))]
            await self.within_share(account.base_url, self.endpoint.weight_for(params), report)
            report.requests += 1
            try:
                reply = await self.client.call(self.endpoint, params, base_url=account.base_url, account=account)
            except ExchangeError as exc:
                if exc.code == INVALID_SYMBOL:  # delisted or never listed on this host
                    report.skipped.append(candidate.symbol)
                    return
                raise
            rows = reply.data if isinstance(reply.data, list) else []
            fills = [f for f in (parse_trade(row, candidate) for row in rows) if f is not None]
            next_from = max([from_id - 1, *(f.trade_id for f in fills)]) + 1
            now_ms = int(self.clock() * 1000)
            await self.cache.store.run(lambda: self.cache.save_page(identity, fills, candidate.symbol, next_from, now_ms))
            report.new_trades += len(fills)
            if len(rows) < self.page or next_from <= from_id:
                return
            from_id = next_from

    async def within_share(self, base_url: str, weight: int, report: SyncReport | None = None) -> None:
        """Wait (window by window) until ``weight`` fits in this sync's share of the budget."""
        allowance = self.allowance(base_url)
        while self.client.limiter.used(base_url) + weight > allowance and weight <= allowance:
            now = self.clock()
            wait = WINDOW_S - now % WINDOW_S + self.client.limiter.clock_skew_s
            if report is not None:
                report.waited_s += wait
            await self.sleep(wait)


def parse_trade(row: Any, candidate: Candidate) -> Fill | None:
    """One ``myTrades`` entry as a ``Fill`` (None for an entry missing a field)."""
    if not isinstance(row, dict):
        return None
    numbers = {k: to_decimal(row.get(k)) for k in ("price", "qty", "quoteQty", "commission")}
    ids = [row.get(k) for k in ("id", "orderId", "time")]
    asset = row.get("commissionAsset")
    if any(v is None for v in numbers.values()) or not all(isinstance(i, int) for i in ids) or not isinstance(asset, str):
        return None
    price, qty, quote_qty, commission = (numbers[k] for k in ("price", "qty", "quoteQty", "commission"))
    assert price is not None and qty is not None and quote_qty is not None and commission is not None
    return Fill(
        symbol=candidate.symbol, base=candidate.base, quote=candidate.quote, trade_id=int(row["id"]),
        order_id=int(row["orderId"]), time_ms=int(row["time"]), is_buyer=bool(row.get("isBuyer")),
        is_maker=bool(row.get("isMaker")), price=price, qty=qty, quote_qty=quote_qty,
        commission=commission if commission >= 0 else Decimal(0), commission_asset=asset,
    )
