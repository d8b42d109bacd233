"""An in-process market for the paper desk: deterministic books and aggregate trades answered as
Binance's public endpoints would (the ``PublicRead`` the desk's ``MarketData`` calls), with no
network, no clock and no fake exchange. For property tests and the catch-up benchmark."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

SYMBOL, BASE, QUOTE = "BTCUSDT", "BTC", "USDT"
TICK, STEP = Decimal("0.01"), Decimal("0.0001")


def symbol_entry(symbol: str = SYMBOL, base: str = BASE, quote: str = QUOTE) -> dict[str, Any]:
    """An exchangeInfo entry with the filters a paper order is checked against."""
    return {
        "symbol": symbol, "status": "TRADING", "baseAsset": base, "quoteAsset": quote,
        "baseAssetPrecision": 8, "quoteAssetPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"],
        "quoteOrderQtyMarketAllowed": True,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": str(TICK), "maxPrice": "1000000", "tickSize": str(TICK)},
            {"filterType": "LOT_SIZE", "minQty": str(STEP), "maxQty": "1000", "stepSize": str(STEP)},
            {"filterType": "MARKET_LOT_SIZE", "minQty": "0", "maxQty": "1000", "stepSize": "0"},
            {"filterType": "NOTIONAL", "minNotional": "1", "applyMinToMarket": True, "maxNotional": "10000000",
             "applyMaxToMarket": False, "avgPriceMins": 5},
        ],
    }


@dataclass
class StubMarket:
    """One symbol's book and trade tape; ``public`` answers the desk's unsigned reads."""

    bids: list[tuple[Decimal, Decimal]] = field(default_factory=list)  # best (highest) first
    asks: list[tuple[Decimal, Decimal]] = field(default_factory=list)  # best (lowest) first
    trades: list[dict[str, Any]] = field(default_factory=list)  # aggTrades, ids ascending
    update_id: int = 1
    calls: list[str] = field(default_factory=list)
    entry: dict[str, Any] = field(default_factory=symbol_entry)

    def set_book(self, bids: Sequence[tuple[Decimal, Decimal]], asks: Sequence[tuple[Decimal, Decimal]]) -> None:
        self.bids = sorted(bids, key=lambda lvl: -lvl[0])
        self.asks = sorted(asks, key=lambda lvl: lvl[0])
        self.update_id += 1

    def trade(self, price: Decimal, qty: Decimal, buyer_is_maker: bool) -> int:
        """Append one aggregate trade to the tape; returns its id."""
        trade_id = (self.trades[-1]["a"] + 1) if self.trades else 1
        self.trades.append({"a": trade_id, "p": str(price), "q": str(qty), "f": trade_id, "l": trade_id,
                            "T": 1_700_000_000_000 + trade_id, "m": buyer_is_maker, "M": True})
        return trade_id

    def mid(self) -> Decimal:
        if self.bids and self.asks:
            return (self.bids[0][0] + self.asks[0][0]) / 2
        return Decimal(self.trades[-1]["p"]) if self.trades else Decimal(100)

    async def public(self, tool: str, params: Sequence[tuple[str, str]], base_url: str) -> Any:
        self.calls.append(tool)
        p = dict(params)
        if tool == "get_exchange_info":
            return {"symbols": [self.entry] if p.get("symbol") in (None, self.entry["symbol"]) else []}
        if tool == "get_order_book":
            limit = int(p.get("limit", "100"))
            return {"lastUpdateId": self.update_id,
                    "bids": [[str(a), str(b)] for a, b in self.bids[:limit]],
                    "asks": [[str(a), str(b)] for a, b in self.asks[:limit]]}
        if tool in ("get_avg_price", "get_ticker_price"):
            return {"symbol": self.entry["symbol"], "price": str(self.mid()), "mins": 5}
        if tool == "get_agg_trades":
            return self._agg_trades(p)
        raise AssertionError(f"the paper desk asked the stub market for {tool}")

    def _agg_trades(self, p: dict[str, str]) -> list[dict[str, Any]]:
        limit = min(int(p.get("limit", "500")), 1000)
        if "fromId" not in p:
            return self.trades[-limit:]
        start = int(p["fromId"])
        # ids are 1, 2, 3, ...: the trade with id n sits at index n - 1
        first = max(0, start - self.trades[0]["a"]) if self.trades else 0
        return self.trades[first:first + limit]


@dataclass(frozen=True)
class StubAccount:
    """What the desk needs of a paper account (``placing.PaperAccount``)."""

    name: str = "paper"
    base_url: str = "http://stub.invalid"
    paper: Any = None
