"""An in-process market for unit tests of the paper desk: a fixed exchangeInfo, books and trades,
answering the desk's public reads and counting them."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

SYMBOL_INFO = {
    "symbol": "BTCUSDT", "status": "TRADING", "baseAsset": "BTC", "quoteAsset": "USDT",
    "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"],
    "filters": [
        {"filterType": "PRICE_FILTER", "minPrice": "0.01", "maxPrice": "1000000", "tickSize": "0.01"},
        {"filterType": "LOT_SIZE", "minQty": "0.00001", "maxQty": "9000", "stepSize": "0.00001"},
        {"filterType": "NOTIONAL", "minNotional": "5", "applyMinToMarket": True, "maxNotional": "9000000",
         "applyMaxToMarket": False, "avgPriceMins": 5},
    ],
}


class StubMarket:
    def __init__(self, asks: Sequence[tuple[str, str]] = (), bids: Sequence[tuple[str, str]] = (), last: str = "60000") -> None:
        self.asks = [[p, q] for p, q in asks]
        self.bids = [[p, q] for p, q in bids]
        self.trades: list[dict[str, Any]] = []
        self.last = last
        self.calls: list[tuple[str, dict[str, str]]] = []

    def trade(self, price: str, qty: str, buyer_is_maker: bool) -> None:
        self.trades.append({"a": len(self.trades) + 1, "p": price, "q": qty, "f": 0, "l": 0, "T": 1, "m": buyer_is_maker, "M": True})
        self.last = price

    async def __call__(self, tool: str, params: Sequence[tuple[str, str]], base_url: str) -> Any:
        p = dict(params)
        self.calls.append((tool, p))
        if tool == "get_exchange_info":
            return {"symbols": [SYMBOL_INFO]}
        if tool == "get_order_book":
            limit = int(p.get("limit", 100))
            return {"lastUpdateId": 7, "bids": self.bids[:limit], "asks": self.asks[:limit]}
        if tool == "get_avg_price":
            return {"mins": 5, "price": self.last}
        if tool == "get_ticker_price":
            return {"symbol": "BTCUSDT", "price": self.last}
        if tool == "get_agg_trades":
            if "fromId" in p:
                return [t for t in self.trades if t["a"] >= int(p["fromId"])][: int(p.get("limit", 500))]
            return self.trades[-int(p.get("limit", 500)):]
        raise AssertionError(f"unexpected public read {tool}")


def levels(start: Decimal, step: Decimal, count: int, qty: str) -> list[tuple[str, str]]:
    return [(str(start + step * i), qty) for i in range(count)]
