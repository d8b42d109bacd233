"""Symbol and exchange filter evaluation, transcribed from filters.md.

The checks read the very filter dicts the fake serves in ``exchangeInfo`` (``SymbolSpec.filters()``),
so what a client downloads is exactly what the fake enforces. All arithmetic is :class:`Decimal`.
Failures raise ``-1013 "Filter failure: <FILTER>"`` (errors.md, "Filter failures").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Optional

from .errors import filter_failure

ZERO = Decimal(0)
ALGO_TYPES = frozenset({"STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"})
# Trailing stops that trigger on a rise ("above") per the TRAILING_DELTA section.
_ABOVE = frozenset({("STOP_LOSS", "BUY"), ("STOP_LOSS_LIMIT", "BUY"), ("TAKE_PROFIT", "SELL"),
                    ("TAKE_PROFIT_LIMIT", "SELL")})


@dataclass
class OpenCounts:
    """The account's open orders at the time of the check."""

    symbol_orders: int = 0
    symbol_algo: int = 0
    exchange_orders: int = 0


def _d(value: Any) -> Decimal:
    return Decimal(str(value))


def _by_type(filters: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {f["filterType"]: f for f in filters}


def check_price_filter(f: dict[str, Any], price: Decimal) -> bool:
    """PRICE_FILTER: each rule disabled when its value is 0; ``price % tickSize == 0``."""
    min_price, max_price, tick = _d(f["minPrice"]), _d(f["maxPrice"]), _d(f["tickSize"])
    if min_price != 0 and price < min_price:
        return False
    if max_price != 0 and price > max_price:
        return False
    return tick == 0 or price % tick == 0


def check_lot(f: dict[str, Any], qty: Decimal) -> bool:
    """LOT_SIZE / MARKET_LOT_SIZE: ``minQty <= qty <= maxQty`` and ``qty % stepSize == 0``.

    A zero ``stepSize`` / ``maxQty`` (as served for MARKET_LOT_SIZE by the real exchange) disables that rule.
    """
    min_qty, max_qty, step = _d(f["minQty"]), _d(f["maxQty"]), _d(f["stepSize"])
    if qty < min_qty:
        return False
    if max_qty != 0 and qty > max_qty:
        return False
    return step == 0 or qty % step == 0


def check_order_filters(
    filters: list[dict[str, Any]],
    exchange_filters: list[dict[str, Any]],
    order: dict[str, Any],
    avg_price: Decimal,
    counts: Optional[OpenCounts] = None,
) -> None:
    """Apply every symbol filter (and EXCHANGE_MAX_NUM_ORDERS) to one order; raise -1013 on failure.

    ``order`` uses the ``POST /api/v3/order`` parameter names (Decimal values). ``avg_price`` is the
    price the docs prescribe for MARKET orders and PERCENT_PRICE*: the reference price when the symbol
    has one, otherwise the average price over ``avgPriceMins`` (the last price when that is 0).
    """
    by = _by_type(filters)
    otype, side = order["type"], order["side"]
    qty: Optional[Decimal] = order.get("quantity")
    price: Optional[Decimal] = order.get("price")
    stop: Optional[Decimal] = order.get("stopPrice")
    iceberg: Optional[Decimal] = order.get("icebergQty")
    is_market = otype == "MARKET"

    f = by.get("PRICE_FILTER")
    if f is not None:
        for value in (price, stop):
            if value is not None and not check_price_filter(f, value):
                raise filter_failure("PRICE_FILTER")

    if price is not None and not is_market:
        f = by.get("PERCENT_PRICE_BY_SIDE")
        if f is not None:
            up, down = ((_d(f["bidMultiplierUp"]), _d(f["bidMultiplierDown"])) if side == "BUY"
                        else (_d(f["askMultiplierUp"]), _d(f["askMultiplierDown"])))
            if price > avg_price * up or price < avg_price * down:
                raise filter_failure("PERCENT_PRICE_BY_SIDE")
        f = by.get("PERCENT_PRICE")
        if f is not None:
            if price > avg_price * _d(f["multiplierUp"]) or price < avg_price * _d(f["multiplierDown"]):
                raise filter_failure("PERCENT_PRICE")

    f = by.get("LOT_SIZE")
    if f is not None:
        for value in (qty, iceberg):
            if value is not None and not check_lot(f, value):
                raise filter_failure("LOT_SIZE")
    f = by.get("MARKET_LOT_SIZE")
    if f is not None and is_market and qty is not None and not check_lot(f, qty):
        raise filter_failure("MARKET_LOT_SIZE")

    f = by.get("ICEBERG_PARTS")
    if f is not None and iceberg is not None and iceberg > 0 and qty is not None:
        if math.ceil(qty / iceberg) > int(f["limit"]):
            raise filter_failure("ICEBERG_PARTS")

    f = by.get("TRAILING_DELTA")
    delta = order.get("trailingDelta")
    if f is not None and delta is not None and otype in ALGO_TYPES:
        lo, hi = ((f["minTrailingAboveDelta"], f["maxTrailingAboveDelta"]) if (otype, side) in _ABOVE
                  else (f["minTrailingBelowDelta"], f["maxTrailingBelowDelta"]))
        if not int(lo) <= int(delta) <= int(hi):
            raise filter_failure("TRAILING_DELTA")

    # Notional: price * quantity; MARKET orders use the average price. A MARKET quoteOrderQty order
    # has no quantity before it executes: it spends at most quoteOrderQty, so only the minimum is
    # checked against quoteOrderQty (the maximum is not evaluated).
    notional: Optional[Decimal] = None
    quote_only = is_market and qty is None and order.get("quoteOrderQty") is not None
    if is_market:
        if quote_only:
            notional = order["quoteOrderQty"]
        elif qty is not None:
            notional = avg_price * qty
    elif qty is not None and (price is not None or stop is not None):
        notional = (price if price is not None else stop) * qty  # type: ignore[operator]
    if notional is not None:
        f = by.get("MIN_NOTIONAL")
        if f is not None and (not is_market or f.get("applyToMarket", True)):
            if notional < _d(f["minNotional"]):
                raise filter_failure("MIN_NOTIONAL")
        f = by.get("NOTIONAL")
        if f is not None:
            if (not is_market or f.get("applyMinToMarket", True)) and notional < _d(f["minNotional"]):
                raise filter_failure("NOTIONAL")
            if (not is_market or (f.get("applyMaxToMarket", False) and not quote_only)) \
                    and notional > _d(f["maxNotional"]):
                raise filter_failure("NOTIONAL")

    if counts is not None:
        f = by.get("MAX_NUM_ORDERS")
        if f is not None and counts.symbol_orders + 1 > int(f["maxNumOrders"]):
            raise filter_failure("MAX_NUM_ORDERS")
        f = by.get("MAX_NUM_ALGO_ORDERS")
        if f is not None and otype in ALGO_TYPES and counts.symbol_algo + 1 > int(f["maxNumAlgoOrders"]):
            raise filter_failure("MAX_NUM_ALGO_ORDERS")
        for ef in exchange_filters:
            if ef["filterType"] == "EXCHANGE_MAX_NUM_ORDERS" and counts.exchange_orders + 1 > int(ef["maxNumOrders"]):
                raise filter_failure("EXCHANGE_MAX_NUM_ORDERS")
