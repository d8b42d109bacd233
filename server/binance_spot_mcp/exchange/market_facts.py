"""What the call pipeline asks Binance about a symbol before it sends an order: the symbol's
filters (an order they would reject is refused locally), its last price and its quote asset (for
the notional an approval shows), and for a symbol Binance does not know, the nearest listed ones.
Public reads only: no key is ever sent from here.

exchangeInfo entries are cached per base URL and symbol (``filter_cache``). When a fact cannot be
fetched the order is not held up: a check that needs it is skipped and Binance has the last word.
"""

from __future__ import annotations

import difflib
import time
from decimal import Decimal
from typing import Any

import anyio

from binance_spot_mcp.catalog.endpoints import Catalog, Endpoint
from binance_spot_mcp.errors import BinanceSpotError, ExchangeError
from binance_spot_mcp.exchange.client import BinanceClient
from binance_spot_mcp.exchange.filter_cache import ExchangeInfoCache
from binance_spot_mcp.exchange.filters import check_order, needs_avg_price

PRICE_LOOKUP_TIMEOUT_S = 3.0
LISTED_SYMBOLS_TTL_S = 300.0  # how long the list of symbols for "did you mean" is kept
UNKNOWN_SYMBOL = -1121  # Binance's "Invalid symbol."


class MarketFacts:
    """Public facts about symbols, from the exchange an account trades on (its base URL)."""

    def __init__(self, client: BinanceClient, catalog: Catalog, filter_cache: ExchangeInfoCache) -> None:
        self.client = client
        self.catalog = catalog
        self.filter_cache = filter_cache
        self._listed: dict[str, tuple[float, tuple[str, ...]]] = {}  # base URL -> (kept until, symbols)

    async def public_read(self, tool: str, args: list[tuple[str, str]], base_url: str) -> Any:
        endpoint = self.catalog.get(tool)
        assert endpoint is not None
        return (await self.client.call(endpoint, args, base_url=base_url, account=None)).data

    async def symbol_info(self, base_url: str, symbol: str) -> Any:
        """The symbol's exchangeInfo reply, from the cache or fetched once (None when unavailable)."""

        async def fetch() -> Any:
            return await self.public_read("get_exchange_info", [("symbol", symbol)], base_url)

        return await self.filter_cache.get(base_url, symbol, fetch)

    async def check_filters(self, endpoint: Endpoint, params: dict[str, str], base_url: str) -> None:
        """Refuse locally an order the symbol's filters would reject (raises ``FilterRejected``).

        Filters come from exchangeInfo, cached per base URL and symbol; when they cannot be
        fetched the order is not held up: Binance still checks it."""
        symbol = params.get("symbol")
        if not symbol:
            return
        info = await self.symbol_info(base_url, symbol)
        if info is None:
            return
        avg_price = None
        if needs_avg_price(endpoint.tool, params, info):
            try:
                reply = await self.public_read("get_avg_price", [("symbol", symbol)], base_url)
                avg_price = Decimal(str(reply["price"]))
            except (BinanceSpotError, KeyError, TypeError, ArithmeticError):
                avg_price = None  # unknown: the checks that need it are skipped
        check_order(endpoint.tool, params, info, avg_price=avg_price)

    async def listed_symbols(self, base_url: str) -> tuple[str, ...]:
        """Every symbol the exchange lists (one ticker-price read, weight 4), kept for a while."""
        kept = self._listed.get(base_url)
        if kept is not None and time.monotonic() < kept[0]:
            return kept[1]
        names: tuple[str, ...] = ()
        with anyio.move_on_after(PRICE_LOOKUP_TIMEOUT_S):
            try:
                data = await self.public_read("get_ticker_price", [], base_url)
            except BinanceSpotError:
                data = None
            if isinstance(data, list):
                names = tuple(str(t["symbol"]) for t in data if isinstance(t, dict) and isinstance(t.get("symbol"), str))
                self._listed[base_url] = (time.monotonic() + LISTED_SYMBOLS_TTL_S, names)
        return names

    async def suggest_symbols(self, exc: BinanceSpotError, params: dict[str, str], base_url: str) -> None:
        """For Binance's "unknown symbol" (-1121), name the nearest listed symbols in the hint."""
        symbol = params.get("symbol")
        if not isinstance(exc, ExchangeError) or exc.code != UNKNOWN_SYMBOL or not symbol:
            return
        nearest = difflib.get_close_matches(symbol, await self.listed_symbols(base_url), n=3, cutoff=0.6)
        if nearest:
            exc.hint = f"No symbol {symbol} is listed there. Did you mean {' or '.join(nearest)}?"

    async def last_price(self, base_url: str, params: dict[str, str]) -> str | None:
        """The symbol's last price for the preview's notional, when the order itself has none."""
        if "symbol" not in params or params.get("price") or params.get("quoteOrderQty"):
            return None
        with anyio.move_on_after(PRICE_LOOKUP_TIMEOUT_S):
            try:
                data = await self.public_read("get_ticker_price", [("symbol", params["symbol"])], base_url)
            except BinanceSpotError:
                return None
            return str(data["price"]) if isinstance(data, dict) and data.get("price") else None
        return None

    async def quote_asset(self, base_url: str, symbol: str | None) -> str | None:
        """The symbol's quote asset (from the cached exchangeInfo), for the preview's notional."""
        if not symbol:
            return None
        info = None
        with anyio.move_on_after(PRICE_LOOKUP_TIMEOUT_S):
            info = await self.symbol_info(base_url, symbol)
        asset = info.get("quoteAsset") if info is not None else None
        return asset if isinstance(asset, str) else None
