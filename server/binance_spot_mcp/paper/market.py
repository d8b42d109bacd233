"""Public market data for the paper desk: exchangeInfo, depth snapshots and aggregate trades,
read unsigned from the account's market-data source (Binance's public mainnet endpoints by default).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from typing import Any

from binance_spot_mcp.errors import ExchangeError
from binance_spot_mcp.paper.matching import AggTrade, Level, parse_levels

# (tool name, wire parameters, base URL) -> decoded reply; never signed, never with a key.
PublicRead = Callable[[str, Sequence[tuple[str, str]], str], Awaitable[Any]]
INFO_TTL_S = 60.0
FIRST_DEPTH = 100
DEEP_DEPTH = 5000
AGG_PAGE = 1000
MAX_AGG_PAGES = 50  # per symbol and call: 50,000 trades; the rest is caught up on the next call


class MarketData:
    def __init__(self, public: PublicRead, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._public = public
        self._monotonic = monotonic
        self._info: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}

    async def symbol_info(self, base_url: str, symbol: str) -> dict[str, Any]:
        key = (base_url, symbol)
        cached = self._info.get(key)
        if cached and self._monotonic() - cached[0] < INFO_TTL_S:
            return cached[1]
        reply = await self._public("get_exchange_info", [("symbol", symbol)], base_url)
        entries = reply.get("symbols") if isinstance(reply, dict) else None
        entry = next((s for s in entries or [] if isinstance(s, dict) and s.get("symbol") == symbol), None)
        if entry is None:
            raise ExchangeError(status=400, code=-1121, msg="Invalid symbol.", hint="Check the symbol with get_exchange_info.")
        self._info[key] = (self._monotonic(), entry)
        return entry

    async def depth(self, base_url: str, symbol: str, limit: int) -> tuple[int, list[Level], list[Level]]:
        reply = await self._public("get_order_book", [("symbol", symbol), ("limit", str(limit))], base_url)
        return int(reply.get("lastUpdateId", 0)), parse_levels(reply.get("bids", [])), parse_levels(reply.get("asks", []))

    async def avg_price(self, base_url: str, symbol: str) -> Decimal | None:
        """The symbol's average price (GET /api/v3/avgPrice), None when unknown."""
        return await self._price("get_avg_price", base_url, symbol)

    async def last_price(self, base_url: str, symbol: str) -> Decimal | None:
        """The symbol's last price (GET /api/v3/ticker/price), None when unknown."""
        return await self._price("get_ticker_price", base_url, symbol)

    async def _price(self, tool: str, base_url: str, symbol: str) -> Decimal | None:
        """A reply's ``price`` when it is a finite, positive number; None for anything else."""
        try:
            reply = await self._public(tool, [("symbol", symbol)], base_url)
            value = Decimal(str(reply["price"]))
        except (ExchangeError, KeyError, TypeError, ArithmeticError, ValueError):
            return None
        return value if value.is_finite() and value > 0 else None

    async def last_trade_id(self, base_url: str, symbol: str) -> tuple[int, Decimal | None]:
        """The newest aggregate trade's id and price (0, None when the symbol never traded)."""
        reply = await self._public("get_agg_trades", [("symbol", symbol), ("limit", "1")], base_url)
        trades = _parse(reply)
        return (trades[-1].id, trades[-1].price) if trades else (0, None)

    async def trades_after(self, base_url: str, symbol: str, after: int) -> list[AggTrade]:
        """Aggregate trades with an id above ``after``, in order, a bounded number of pages."""
        out: list[AggTrade] = []
        for _ in range(MAX_AGG_PAGES):
            reply = await self._public(
                "get_agg_trades", [("symbol", symbol), ("fromId", str(after + 1)), ("limit", str(AGG_PAGE))], base_url
            )
            page = [t for t in _parse(reply) if t.id > after]
            out.extend(page)
            if len(page) < AGG_PAGE:
                break
            after = page[-1].id
        return out


def _parse(reply: Any) -> list[AggTrade]:
    out = []
    for item in reply if isinstance(reply, list) else []:
        try:
            out.append(AggTrade(int(item["a"]), Decimal(str(item["p"])), Decimal(str(item["q"])), bool(item["m"]), int(item["T"])))
        except (KeyError, TypeError, ValueError, ArithmeticError):
            continue
    return sorted(out, key=lambda t: t.id)
