"""Symbol definitions, filters and the exchangeInfo shape of the fake exchange."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

D = Decimal


@dataclass
class SymbolSpec:
    """Trading rules for one symbol (values shaped like the real exchange)."""

    symbol: str
    base: str
    quote: str
    ref_price: Decimal
    tick: Decimal
    step: Decimal
    min_qty: Decimal
    max_qty: Decimal
    min_notional: Decimal
    max_notional: Decimal
    market_max_qty: Decimal
    seed_qty: Decimal = D(1)
    status: str = "TRADING"
    legacy_min_notional: bool = False
    permission_sets: list[list[str]] = field(default_factory=lambda: [["SPOT", "MARGIN"]])

    def filters(self) -> list[dict[str, Any]]:
        """The symbol's filters in exchangeInfo format."""
        out: list[dict[str, Any]] = [
            {"filterType": "PRICE_FILTER", "minPrice": fmt(self.tick), "maxPrice": fmt(D(1000000)),
             "tickSize": fmt(self.tick)},
            {"filterType": "LOT_SIZE", "minQty": fmt(self.min_qty), "maxQty": fmt(self.max_qty),
             "stepSize": fmt(self.step)},
            {"filterType": "ICEBERG_PARTS", "limit": 100},
            {"filterType": "MARKET_LOT_SIZE", "minQty": fmt(D(0)), "maxQty": fmt(self.market_max_qty),
             "stepSize": fmt(D(0))},
            {"filterType": "TRAILING_DELTA", "minTrailingAboveDelta": 10, "maxTrailingAboveDelta": 2000,
             "minTrailingBelowDelta": 10, "maxTrailingBelowDelta": 2000},
            {"filterType": "PERCENT_PRICE_BY_SIDE", "bidMultiplierUp": "5", "bidMultiplierDown": "0.2",
             "askMultiplierUp": "5", "askMultiplierDown": "0.2", "avgPriceMins": 5},
            {"filterType": "NOTIONAL", "minNotional": fmt(self.min_notional), "applyMinToMarket": True,
             "maxNotional": fmt(self.max_notional), "applyMaxToMarket": False, "avgPriceMins": 5},
            {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
            {"filterType": "MAX_NUM_ORDER_LISTS", "maxNumOrderLists": 20},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": 5},
            {"filterType": "MAX_NUM_ORDER_AMENDS", "maxNumOrderAmends": 10},
        ]
        if self.legacy_min_notional:
            out.insert(3, {"filterType": "MIN_NOTIONAL", "minNotional": fmt(self.min_notional),
                           "applyToMarket": True, "avgPriceMins": 5})
        return out

    def info(self, show_permission_sets: bool = True) -> dict[str, Any]:
        """One entry of exchangeInfo ``symbols``."""
        return {
            "symbol": self.symbol,
            "status": self.status,
            "baseAsset": self.base,
            "baseAssetPrecision": 8,
            "quoteAsset": self.quote,
            "quotePrecision": 8,
            "quoteAssetPrecision": 8,
            "baseCommissionPrecision": 8,
            "quoteCommissionPrecision": 8,
            "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT",
                           "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"],
            "icebergAllowed": True,
            "ocoAllowed": True,
            "otoAllowed": True,
            "opoAllowed": True,
            "quoteOrderQtyMarketAllowed": True,
            "allowTrailingStop": True,
            "cancelReplaceAllowed": True,
            "amendAllowed": True,
            "pegInstructionsAllowed": True,
            "isSpotTradingAllowed": True,
            "isMarginTradingAllowed": True,
            "filters": self.filters(),
            "permissions": [],
            "permissionSets": self.permission_sets if show_permission_sets else [],
            "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
            "allowedSelfTradePreventionModes": ["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH",
                                                "DECREMENT", "TRANSFER"],
        }


def fmt(value: Decimal, places: int = 8) -> str:
    """Render a decimal the way Binance does (fixed 8 decimals)."""
    return f"{value:.{places}f}"


def default_symbols() -> dict[str, SymbolSpec]:
    """BTCUSDT, ETHUSDT, BNBUSDT and ETHBTC with real-like precision."""
    specs = [
        SymbolSpec("BTCUSDT", "BTC", "USDT", D("60000.00"), D("0.01"), D("0.00001"), D("0.00001"),
                   D("9000"), D("5"), D("9000000"), D("100"), seed_qty=D("0.5")),
        SymbolSpec("ETHUSDT", "ETH", "USDT", D("3000.00"), D("0.01"), D("0.0001"), D("0.0001"),
                   D("9000"), D("5"), D("9000000"), D("1000"), seed_qty=D("5")),
        SymbolSpec("BNBUSDT", "BNB", "USDT", D("600.00"), D("0.01"), D("0.001"), D("0.001"),
                   D("9000"), D("5"), D("9000000"), D("1000"), seed_qty=D("20")),
        SymbolSpec("ETHBTC", "ETH", "BTC", D("0.05000"), D("0.00001"), D("0.0001"), D("0.0001"),
                   D("100000"), D("0.0001"), D("9000000"), D("1000"), seed_qty=D("5"), legacy_min_notional=True),
    ]
    return {s.symbol: s for s in specs}


RATE_LIMITS: list[dict[str, Any]] = [
    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
    {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
    {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000},
]

EXCHANGE_FILTERS: list[dict[str, Any]] = [
    {"filterType": "EXCHANGE_MAX_NUM_ORDERS", "maxNumOrders": 1000},
]
