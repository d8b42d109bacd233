"""What the call pipeline asks Binance about a symbol before it sends an order: the symbol's
filters (an order they would reject is refused locally), its last price and its quote asset (for
the notional an approval shows). Public reads only: no key is ever sent from here.

exchangeInfo entries are cached per base URL and symbol (``filter_cache``). When a fact cannot be
fetched the order is not held up: a check that needs it is skipped and Binance has the last word.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import anyio

from binance_spot_mcp.catalog.endpoints import Catalog, Endpoint
from binance_spot_mcp.errors import BinanceSpotError
from binance_spot_mcp.exchange.client import BinanceClient
from binance_spot_mcp.exchange.filter_cache import ExchangeInfoCache
from binance_spot_mcp.exchange.filters import check_order, needs_avg_price

PRICE_LOOKUP_TIMEOUT_S = 3.0


class MarketFacts:
    """Public facts about symbols, from the exchange an account trades on (its base URL)."""

    def __init__(self, client: BinanceClient, catalog: Catalog, filter_cache: ExchangeInfoCache) -> None:
        self.client = client
        self.catalog = catalog
        self.filter_cache = filter_cache

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
