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
    # Further filter knobs (all served in exchangeInfo and enforced by the fake's order checks).
    min_price: Decimal | None = None  # default: tick
    max_price: Decimal = D(1000000)
    market_min_qty: Decimal = D(0)
    market_step: Decimal = D(0)
    iceberg_parts: int = 100
    bid_up: Decimal = D(5)
    bid_down: Decimal = D("0.2")
    ask_up: Decimal = D(5)
    ask_down: Decimal = D("0.2")
    avg_price_mins: int = 5
    apply_min_to_market: bool = True
    apply_max_to_market: bool = False
    max_num_orders: int = 200
    max_num_algo_orders: int = 5
    max_num_order_lists: int = 20

    def filters(self) -> list[dict[str, Any]]:
        """The symbol's filters in exchangeInfo format."""
        min_price = self.tick if self.min_price is None else self.min_price
        out: list[dict[str, Any]] = [
            {"filterType": "PRICE_FILTER", "minPrice": fmt(min_price), "maxPrice": fmt(self.max_price),
             "tickSize": fmt(self.tick)},
            {"filterType": "LOT_SIZE", "minQty": fmt(self.min_qty), "maxQty": fmt(self.max_qty),
             "stepSize": fmt(self.step)},
            {"filterType": "ICEBERG_PARTS", "limit": self.iceberg_parts},
            {"filterType": "MARKET_LOT_SIZE", "minQty": fmt(self.market_min_qty),
             "maxQty": fmt(self.market_max_qty), "stepSize": fmt(self.market_step)},
            {"filterType": "TRAILING_DELTA", "minTrailingAboveDelta": 10, "maxTrailingAboveDelta": 2000,
             "minTrailingBelowDelta": 10, "maxTrailingBelowDelta": 2000},
            {"filterType": "PERCENT_PRICE_BY_SIDE", "bidMultiplierUp": str(self.bid_up),
             "bidMultiplierDown": str(self.bid_down), "askMultiplierUp": str(self.ask_up),
             "askMultiplierDown": str(self.ask_down), "avgPriceMins": self.avg_price_mins},
            {"filterType": "NOTIONAL", "minNotional": fmt(self.min_notional),
             "applyMinToMarket": self.apply_min_to_market, "maxNotional": fmt(self.max_notional),
             "applyMaxToMarket": self.apply_max_to_market, "avgPriceMins": self.avg_price_mins},
            {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": self.max_num_orders},
            {"filterType": "MAX_NUM_ORDER_LISTS", "maxNumOrderLists": self.max_num_order_lists},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": self.max_num_algo_orders},
            {"filterType": "MAX_NUM_ORDER_AMENDS", "maxNumOrderAmends": 10},
        ]
        if self.legacy_min_notional:
            out.insert(3, {"filterType": "MIN_NOTIONAL", "minNotional": fmt(self.min_notional),
                           "applyToMarket": self.apply_min_to_market, "avgPriceMins": self.avg_price_mins})
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
    """BTCUSDT, ETHUSDT, BNBUSDT, ETHBTC, SOLUSDT and testnet's 这是测试币456 with real-like precision."""
    specs = [
        SymbolSpec("BTCUSDT", "BTC", "USDT", D("60000.00"), D("0.01"), D("0.00001"), D("0.00001"),
                   D("9000"), D("5"), D("9000000"), D("100"), seed_qty=D("0.5")),
        SymbolSpec("ETHUSDT", "ETH", "USDT", D("3000.00"), D("0.01"), D("0.0001"), D("0.0001"),
                   D("9000"), D("5"), D("9000000"), D("1000"), seed_qty=D("5")),
        SymbolSpec("BNBUSDT", "BNB", "USDT", D("600.00"), D("0.01"), D("0.001"), D("0.001"),
                   D("9000"), D("5"), D("9000000"), D("1000"), seed_qty=D("20")),
        SymbolSpec("ETHBTC", "ETH", "BTC", D("0.05000"), D("0.00001"), D("0.0001"), D("0.0001"),
                   D("100000"), D("0.0001"), D("9000000"), D("1000"), seed_qty=D("5"), legacy_min_notional=True),
        # Unusual steps so client-side rounding gets exercised: tick 0.0005 (minPrice a multiple of it),
        # step 0.1, a MARKET_LOT_SIZE with its own min/max/step, asymmetric PERCENT_PRICE_BY_SIDE
        # (the filters.md example values) and maxNotional applied to MARKET orders.
        SymbolSpec("SOLUSDT", "SOL", "USDT", D("150.0000"), D("0.0005"), D("0.1"), D("0.1"),
                   D("90000"), D("5"), D("100000"), D("500"), seed_qty=D("10"), min_price=D("0.0010"),
                   max_price=D("50000"), market_min_qty=D("0.2"), market_step=D("0.2"), iceberg_parts=10,
                   bid_up=D("1.2"), bid_down=D("0.2"), ask_up=D("5"), ask_down=D("0.8"), avg_price_mins=1,
                   apply_min_to_market=False, apply_max_to_market=True),
        # The Unicode symbol listed on SPOT testnet since 2025-12-18 (CHANGELOG): base 这是测试币, quote 456.
        SymbolSpec("这是测试币456", "这是测试币", "456", D("2.0000"), D("0.0001"), D("0.01"), D("0.01"),
                   D("900000"), D("1"), D("9000000"), D("10000"), seed_qty=D("100")),
    ]
    return {s.symbol: s for s in specs}


RATE_LIMITS: list[dict[str, Any]] = [
    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
    {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
    {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000},
]


def rate_limits(weight_limit: int) -> list[dict[str, Any]]:
    """exchangeInfo ``rateLimits`` with the configured REQUEST_WEIGHT per-minute limit."""
    out = [dict(entry) for entry in RATE_LIMITS]
    out[0]["limit"] = weight_limit
    return out

EXCHANGE_FILTERS: list[dict[str, Any]] = [
    {"filterType": "EXCHANGE_MAX_NUM_ORDERS", "maxNumOrders": 1000},
]
