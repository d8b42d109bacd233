"""Local pre-checks of orders against a symbol's exchangeInfo filters (filters.md).

Before an order is sent, ``check_order`` applies the symbol filters Binance applies to that order
type, with the formulas of Binance's filters.md and exact ``Decimal`` arithmetic, and raises
:class:`FilterRejected` naming the filter, the parameter and the nearest valid values::

    LOT_SIZE: quantity must be a multiple of 0.001 from 0.001 to 9000; 0.0123 -> 0.012 or 0.013

The rule is *no false rejections*: an order the exchange would accept is never refused here.
Whenever something a check needs is unknown (no average price, a ``quoteOrderQty`` order's
quantity, a pegged order's price, a value that does not parse) that check is skipped, and the
exchange has the last word.

Covered filters: PRICE_FILTER (price and stopPrice), PERCENT_PRICE, PERCENT_PRICE_BY_SIDE (price,
only with ``avg_price``), LOT_SIZE (quantity and icebergQty, every order type: Binance applies it to
MARKET orders too), MARKET_LOT_SIZE (MARKET quantity, in addition), MIN_NOTIONAL (``applyToMarket``), NOTIONAL (``applyMinToMarket`` /
``applyMaxToMarket``), ICEBERG_PARTS (``ceil(quantity / icebergQty) <= limit``), TRAILING_DELTA,
MAX_NUM_ORDERS (only with ``open_orders``). A rule whose bound is 0 is treated as disabled, and a
missing ``apply*ToMarket`` flag as false.
Filters that need account state we do not have (MAX_NUM_ALGO_ORDERS, MAX_NUM_ICEBERG_ORDERS,
MAX_POSITION, the EXCHANGE_* and asset filters) are not checked.

Notional of a MARKET order: ``quantity * avg_price`` (the caller passes ``GET /api/v3/avgPrice``).
A MARKET ``quoteOrderQty`` order spends at most ``quoteOrderQty``, so only the *minimum* notional
is checked against it (a larger real notional is impossible); its maximum is left to Binance.
STOP_LOSS / TAKE_PROFIT orders have no price, so no notional is computed for them.

Covered tools (``ORDER_TOOLS``): place_order, test_order, place_sor_order, test_sor_order,
cancel_replace_order (the new order), place_oco_deprecated, place_order_list_oco / _oto /
_otoco / _opo / _opoco (each leg on its own; a leg without its own quantity skips quantity checks).

The exchangeInfo entries come from ``filter_cache.ExchangeInfoCache``. Turning the checks off
is the caller's switch: simply do not call ``check_order``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Any

from binance_spot_mcp.errors import ToolInputError
from binance_spot_mcp.exchange.order_legs import ORDER_TOOLS, Leg, order_legs, wire_decimal

log = logging.getLogger(__name__)

DECIMAL_PRECISION = 100  # wire decimals have at most 20 + 20 digits; products and quotients fit

# How many times a suggestion that breaks another filter is replaced by that filter's suggestion.
MAX_SUGGESTION_ROUNDS = 4
_PRICED_TYPES = frozenset({"LIMIT", "LIMIT_MAKER", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"})
# TRAILING_DELTA: which bounds apply to which (type, side), per filters.md.
_TRAILING_ABOVE = frozenset(
    {("STOP_LOSS", "BUY"), ("STOP_LOSS_LIMIT", "BUY"), ("TAKE_PROFIT", "SELL"), ("TAKE_PROFIT_LIMIT", "SELL")}
)
_TRAILING_BELOW = frozenset(
    {("STOP_LOSS", "SELL"), ("STOP_LOSS_LIMIT", "SELL"), ("TAKE_PROFIT", "BUY"), ("TAKE_PROFIT_LIMIT", "BUY")}
)


ABOVE_MAXIMUM_HINT = (
    "Nothing was sent. The suggestion is the largest value this filter allows in one order, not what the account "
    "holds or can pay for: check the free balance with get_account before using it, or ask the user."
)


class FilterRejected(ToolInputError):
    """An order breaks one of the symbol's exchangeInfo filters; nothing was sent."""

    kind = "filter_rejected"
    default_hint = (
        "Nothing was sent. Use one of the suggested values (get_exchange_info shows the symbol's "
        "filters) and call the tool again."
    )

    def __init__(
        self,
        filter_type: str,
        message: str,
        *,
        parameter: str | None = None,
        suggestions: tuple[str, ...] = (),
        hint: str | None = None,
    ) -> None:
        super().__init__(message, parameter=parameter, hint=hint)
        self.filter_type = filter_type
        self.suggestions = suggestions
        self.violations: tuple[FilterRejected, ...] = (self,)

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["filter"] = self.filter_type
        if self.suggestions:
            out["suggestions"] = list(self.suggestions)
        return out


# ---------------------------------------------------------------------------------- decimals
def _fmt(value: Decimal) -> str:
    """Plain decimal text without trailing zeros or exponent: ``0.012``, ``100``."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


def _on_step(value: Decimal, step: Decimal) -> bool:
    return step <= 0 or value % step == 0


def _floor_to(value: Decimal, step: Decimal) -> Decimal:
    return value if step <= 0 else (value // step) * step


def _ceil_to(value: Decimal, step: Decimal) -> Decimal:
    if step <= 0:
        return value
    units = value // step
    if units * step < value:
        units += 1
    return units * step


def _grid_neighbours(value: Decimal, step: Decimal, low: Decimal, high: Decimal | None) -> list[Decimal]:
    """The valid values nearest ``value`` below and above it on the grid ``k * step`` in [low, high]."""
    smallest = _ceil_to(low, step)
    largest = _floor_to(high, step) if high is not None else None
    if largest is not None and largest < smallest:
        return []
    down = _floor_to(value, step)
    up = _ceil_to(value, step)
    if largest is not None:
        down, up = min(down, largest), min(up, largest)
    down, up = max(down, smallest), max(up, smallest)
    return [down] if down == up else [down, up]


def _limit(filt: Mapping[str, Any], name: str) -> Decimal | None:
    """A filter bound; 0 or missing means the rule is disabled (None)."""
    value = wire_decimal(filt.get(name))
    return value if value is not None and value > 0 else None


def _flag(filt: Mapping[str, Any], name: str, default: bool) -> bool:
    value = filt.get(name, default)
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def symbol_entry(info: Mapping[str, Any] | None, symbol: str | None = None) -> Mapping[str, Any] | None:
    """The symbol's entry (with ``filters``) from an exchangeInfo reply, or the entry itself."""
    if not isinstance(info, Mapping):
        return None
    if "filters" in info and "symbols" not in info:
        return info if symbol is None or info.get("symbol") in (None, symbol) else None
    for entry in info.get("symbols") or ():
        if isinstance(entry, Mapping) and (symbol is None or entry.get("symbol") == symbol):
            return entry
    return None


# ---------------------------------------------------------------------------------- filters
@dataclass(frozen=True)
class _Context:
    avg_price: Decimal | None
    open_orders: int | None
    tick: Decimal  # PRICE_FILTER tickSize (0 when unknown), for suggestions
    step: Decimal  # LOT_SIZE stepSize (0 when unknown), for suggestions


def _range_text(step: Decimal | None, low: Decimal | None, high: Decimal | None) -> str:
    parts = []
    if step is not None:
        parts.append(f"a multiple of {_fmt(step)}")
    if low is not None and high is not None:
        parts.append(f"from {_fmt(low)} to {_fmt(high)}")
    elif low is not None:
        parts.append(f"at least {_fmt(low)}")
    elif high is not None:
        parts.append(f"at most {_fmt(high)}")
    return " ".join(parts)


def _grid_check(
    filter_type: str, parameter: str, value: Decimal, low: Decimal | None, high: Decimal | None, step: Decimal | None
) -> FilterRejected | None:
    """``value >= low``, ``value <= high``, ``value % step == 0`` for the enabled rules."""
    ok = (low is None or value >= low) and (high is None or value <= high)
    ok = ok and (step is None or _on_step(value, step))
    if ok:
        return None
    nearest = [v for v in _grid_neighbours(value, step or Decimal(0), low or Decimal(0), high) if v > 0]
    suggestions = tuple(_fmt(v) for v in nearest)
    tail = f"; {_fmt(value)} -> {' or '.join(suggestions)}" if suggestions else f"; {_fmt(value)} is not"
    message = f"{filter_type}: {parameter} must be {_range_text(step, low, high)}{tail}"
    hint = ABOVE_MAXIMUM_HINT if high is not None and value > high else None
    return FilterRejected(filter_type, message, parameter=parameter, suggestions=suggestions, hint=hint)


def _price_filter(leg: Leg, filt: Mapping[str, Any], ctx: _Context) -> Iterator[FilterRejected | None]:
    low, high, tick = _limit(filt, "minPrice"), _limit(filt, "maxPrice"), _limit(filt, "tickSize")
    if leg.price is not None and not leg.pegged and leg.type != "MARKET":
        yield _grid_check("PRICE_FILTER", leg.name("price"), leg.price, low, high, tick)
    if leg.stop_price is not None:
        yield _grid_check("PRICE_FILTER", leg.name("stopPrice"), leg.stop_price, low, high, tick)


def _percent_price(leg: Leg, filt: Mapping[str, Any], ctx: _Context) -> Iterator[FilterRejected | None]:
    if ctx.avg_price is None or leg.price is None or leg.pegged or leg.type == "MARKET":
        return
    filter_type = str(filt.get("filterType"))
    if filter_type == "PERCENT_PRICE_BY_SIDE":
        if leg.side not in ("BUY", "SELL"):
            return
        prefix = "bid" if leg.side == "BUY" else "ask"
        up, down = wire_decimal(filt.get(f"{prefix}MultiplierUp")), wire_decimal(filt.get(f"{prefix}MultiplierDown"))
    else:
        up, down = wire_decimal(filt.get("multiplierUp")), wire_decimal(filt.get("multiplierDown"))
    if up is None or down is None:
        return
    high, low = ctx.avg_price * up, ctx.avg_price * down
    if low <= leg.price <= high:
        return
    nearest = _ceil_to(low, ctx.tick) if leg.price < low else _floor_to(high, ctx.tick)
    side = f" {leg.side}" if filter_type == "PERCENT_PRICE_BY_SIDE" else ""
    message = (
        f"{filter_type}: a{side} {leg.name('price')} must be from {_fmt(low)} to {_fmt(high)} "
        f"({_fmt(down)}x to {_fmt(up)}x the average price {_fmt(ctx.avg_price)}); "
        f"{_fmt(leg.price)} -> {_fmt(nearest)}"
    )
    yield FilterRejected(filter_type, message, parameter=leg.name("price"), suggestions=(_fmt(nearest),))


def _lot_size(leg: Leg, filt: Mapping[str, Any], ctx: _Context) -> Iterator[FilterRejected | None]:
    low, high, step = _limit(filt, "minQty"), _limit(filt, "maxQty"), _limit(filt, "stepSize")
    if filt.get("filterType") == "MARKET_LOT_SIZE":
        if leg.type == "MARKET" and leg.quantity is not None:
            yield _grid_check("MARKET_LOT_SIZE", leg.name("quantity"), leg.quantity, low, high, step)
        return
    if leg.quantity is not None:
        yield _grid_check("LOT_SIZE", leg.name("quantity"), leg.quantity, low, high, step)
    if leg.iceberg_qty is not None and leg.iceberg_qty > 0:
        yield _grid_check("LOT_SIZE", leg.name("icebergQty"), leg.iceberg_qty, low, high, step)


def _notional_price(leg: Leg, ctx: _Context) -> Decimal | None:
    """The price a notional is computed with, or None when it is not known exactly."""
    if leg.quantity is None:
        return None
    if leg.type == "MARKET":
        return ctx.avg_price
    if leg.type in _PRICED_TYPES and not leg.pegged:
        return leg.price
    return None


def _notional(leg: Leg, filt: Mapping[str, Any], ctx: _Context) -> Iterator[FilterRejected | None]:
    filter_type = str(filt.get("filterType"))
    low = _limit(filt, "minNotional")
    high = _limit(filt, "maxNotional") if filter_type == "NOTIONAL" else None
    if leg.type == "MARKET":
        if filter_type == "MIN_NOTIONAL":
            apply_min, apply_max = _flag(filt, "applyToMarket", False), False
        else:
            apply_min, apply_max = _flag(filt, "applyMinToMarket", False), _flag(filt, "applyMaxToMarket", False)
        low, high = (low if apply_min else None), (high if apply_max else None)
        if leg.quantity is None and leg.quote_qty is not None:
            # A quoteOrderQty order's notional is at most quoteOrderQty: only its minimum is certain.
            if low is not None and leg.quote_qty < low:
                param = leg.name("quoteOrderQty")
                message = (f"{filter_type}: {param} must be at least {_fmt(low)}; "
                           f"{_fmt(leg.quote_qty)} -> {_fmt(low)}")
                yield FilterRejected(filter_type, message, parameter=param, suggestions=(_fmt(low),))
            return
    price = _notional_price(leg, ctx)
    if price is None or leg.quantity is None or (low is None and high is None):
        return
    notional, param = leg.quantity * price, leg.name("quantity")
    priced_by = "the average price" if leg.type == "MARKET" else leg.name("price")
    shown = f"{_fmt(price)} * {_fmt(leg.quantity)} = {_fmt(notional)}"
    if low is not None and notional < low:
        fix = _ceil_to(low / price, ctx.step)
        while ctx.step > 0 and fix * price < low:  # guard against an inexact quotient
            fix += ctx.step
        message = (f"{filter_type}: notional ({priced_by} * {param}) must be at least {_fmt(low)}; "
                   f"{shown} -> {param} {_fmt(fix)}")
        yield FilterRejected(filter_type, message, parameter=param, suggestions=(_fmt(fix),))
    elif high is not None and notional > high:
        fix = _floor_to(high / price, ctx.step)
        message = (f"{filter_type}: notional ({priced_by} * {param}) must be at most {_fmt(high)}; "
                   f"{shown} -> {param} {_fmt(fix)}")
        yield FilterRejected(filter_type, message, parameter=param, suggestions=(_fmt(fix),))


def _parts(quantity: Decimal, part: Decimal) -> Decimal:
    """CEIL(quantity / part), exactly."""
    whole, rest = divmod(quantity, part)
    return whole + (1 if rest else 0)


def _iceberg_parts(leg: Leg, filt: Mapping[str, Any], ctx: _Context) -> Iterator[FilterRejected | None]:
    limit = _limit(filt, "limit")
    if limit is None or leg.quantity is None or leg.iceberg_qty is None or leg.iceberg_qty <= 0:
        return
    parts = _parts(leg.quantity, leg.iceberg_qty)
    if parts <= limit:
        return
    smallest = _ceil_to(leg.quantity / limit, ctx.step)
    while ctx.step > 0 and _parts(leg.quantity, smallest) > limit:  # guard against an inexact quotient
        smallest += ctx.step
    param = leg.name("icebergQty")
    message = (f"ICEBERG_PARTS: ceil({leg.name('quantity')} / {param}) must be at most {_fmt(limit)}; "
               f"ceil({_fmt(leg.quantity)} / {_fmt(leg.iceberg_qty)}) = {_fmt(parts)} -> {param} {_fmt(smallest)}")
    yield FilterRejected("ICEBERG_PARTS", message, parameter=param, suggestions=(_fmt(smallest),))


def _trailing_delta(leg: Leg, filt: Mapping[str, Any], ctx: _Context) -> Iterator[FilterRejected | None]:
    if leg.trailing_delta is None:
        return
    key = (leg.type, leg.side)
    where = "Above" if key in _TRAILING_ABOVE else "Below" if key in _TRAILING_BELOW else None
    if where is None:
        return
    low, high = _limit(filt, f"minTrailing{where}Delta"), _limit(filt, f"maxTrailing{where}Delta")
    yield _grid_check("TRAILING_DELTA", leg.name("trailingDelta"), leg.trailing_delta, low, high, None)


_CHECKS: dict[str, Callable[[Leg, Mapping[str, Any], _Context], Iterator[FilterRejected | None]]] = {
    "PRICE_FILTER": _price_filter,
    "PERCENT_PRICE": _percent_price,
    "PERCENT_PRICE_BY_SIDE": _percent_price,
    "LOT_SIZE": _lot_size,
    "MARKET_LOT_SIZE": _lot_size,
    "MIN_NOTIONAL": _notional,
    "NOTIONAL": _notional,
    "ICEBERG_PARTS": _iceberg_parts,
    "TRAILING_DELTA": _trailing_delta,
}


def _filters(entry: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [f for f in entry.get("filters") or () if isinstance(f, Mapping)]


def find_violations(
    tool: str,
    params: Mapping[str, str],
    symbol_info: Mapping[str, Any] | None,
    *,
    avg_price: Decimal | None = None,
    open_orders: int | None = None,
) -> list[FilterRejected]:
    """Every filter the order breaks, in the order the symbol lists its filters (empty: it passes)."""
    entry = symbol_entry(symbol_info, params.get("symbol"))
    if entry is None or tool not in ORDER_TOOLS:
        return []
    filters = _filters(entry)
    found: list[FilterRejected] = []
    with localcontext() as dctx:
        dctx.prec = DECIMAL_PRECISION
        price_filter = next((f for f in filters if f.get("filterType") == "PRICE_FILTER"), {})
        lot_filter = next((f for f in filters if f.get("filterType") == "LOT_SIZE"), {})
        ctx = _Context(
            # a NaN, an infinity or a price <= 0 is no price: the checks that need one are skipped
            avg_price=avg_price if avg_price is not None and avg_price.is_finite() and avg_price > 0 else None,
            open_orders=open_orders,
            tick=_limit(price_filter, "tickSize") or Decimal(0),
            step=_limit(lot_filter, "stepSize") or Decimal(0),
        )
        legs = order_legs(tool, params)
        for filt in filters:
            filter_type = str(filt.get("filterType"))
            if filter_type == "MAX_NUM_ORDERS":
                found.extend(_max_num_orders(filt, ctx, params.get("symbol")))
                continue
            check = _CHECKS.get(filter_type)
            if check is None:
                continue
            for leg in legs:
                try:
                    found.extend(v for v in check(leg, filt, ctx) if v is not None)
                except (ArithmeticError, TypeError, ValueError) as exc:  # never block an order on our own error
                    log.warning("skipped the local %s check (%s)", filter_type, type(exc).__name__)
    return found


def _max_num_orders(filt: Mapping[str, Any], ctx: _Context, symbol: str | None) -> list[FilterRejected]:
    limit = _limit(filt, "maxNumOrders")
    if limit is None or ctx.open_orders is None or ctx.open_orders < limit:
        return []
    message = (f"MAX_NUM_ORDERS: at most {_fmt(limit)} open orders are allowed on {symbol}, and the account "
               f"has {ctx.open_orders}; cancel an open order first")
    return [FilterRejected("MAX_NUM_ORDERS", message, parameter="symbol",
                           hint="Nothing was sent. Cancel an open order on this symbol (cancel_order) and try again.")]


def _with_passing_suggestions(
    first: FilterRejected,
    found: list[FilterRejected],
    tool: str,
    params: Mapping[str, str],
    symbol_info: Mapping[str, Any] | None,
    avg_price: Decimal | None,
    open_orders: int | None,
) -> FilterRejected:
    """``first`` with only suggestions that pass every checked filter.

    A filter's own suggestion may break another filter (a quantity raised to LOT_SIZE's minimum
    can still be under the minimum notional). Each suggestion is tried with the other filters;
    one that breaks a filter is replaced by that filter's suggestion, for a few rounds."""
    param = first.parameter
    if not param or not first.suggestions:
        return first
    elsewhere = {(v.filter_type, v.parameter) for v in found if v.parameter != param}  # not ours to fix
    kept: list[str] = []
    seen: set[str] = set()
    frontier = list(first.suggestions)
    for _ in range(MAX_SUGGESTION_ROUNDS):
        following: list[str] = []
        for value in frontier:
            if value in seen:
                continue
            seen.add(value)
            trial = find_violations(tool, {**params, param: value}, symbol_info, avg_price=avg_price, open_orders=open_orders)
            broken = [v for v in trial if (v.filter_type, v.parameter) not in elsewhere]
            if not broken:
                kept.append(value)
            else:
                following.extend(broken[0].suggestions if broken[0].parameter == param else ())
        if kept or not following:
            break
        frontier = following
    if tuple(kept) == first.suggestions:
        return first
    old = " or ".join(first.suggestions)
    head, sep, tail = first.message.rpartition(old)
    if kept:
        message = f"{head}{' or '.join(kept)}{tail} (the nearest value that passes every filter)" if sep else first.message
    else:
        message = f"{first.message}; no nearby value passes every filter: check get_exchange_info"
    better = FilterRejected(first.filter_type, message, parameter=param, suggestions=tuple(kept), hint=first.hint)
    found[0] = better
    return better


def check_order(
    tool: str,
    params: Mapping[str, str],
    symbol_info: Mapping[str, Any] | None,
    *,
    avg_price: Decimal | None = None,
    open_orders: int | None = None,
) -> None:
    """Raise :class:`FilterRejected` for the first filter the order breaks; others are listed after it.

    ``params`` are the wire parameters of ``tool``; ``symbol_info`` is the symbol's exchangeInfo
    entry (or a whole exchangeInfo reply). ``avg_price`` (GET /api/v3/avgPrice) enables the
    PERCENT_PRICE* checks and MARKET notional; ``open_orders`` enables MAX_NUM_ORDERS.
    """
    found = find_violations(tool, params, symbol_info, avg_price=avg_price, open_orders=open_orders)
    if not found:
        return
    first = _with_passing_suggestions(found[0], found, tool, params, symbol_info, avg_price, open_orders)
    if len(found) > 1:
        also = "; ".join(v.message for v in found[1:])
        combined = FilterRejected(first.filter_type, f"{first.message}. Also {also}", parameter=first.parameter,
                                  suggestions=first.suggestions, hint=first.hint)
        combined.violations = tuple(found)
        raise combined
    raise first


def needs_avg_price(tool: str, params: Mapping[str, str], symbol_info: Mapping[str, Any] | None) -> bool:
    """True when ``check_order`` would use an average price (so fetch GET /api/v3/avgPrice first)."""
    entry = symbol_entry(symbol_info, params.get("symbol"))
    if entry is None or tool not in ORDER_TOOLS:
        return False
    types = {str(f.get("filterType")) for f in _filters(entry)}
    for leg in order_legs(tool, params):
        if leg.type == "MARKET" and leg.quantity is not None and types & {"MIN_NOTIONAL", "NOTIONAL"}:
            return True
        if leg.type != "MARKET" and leg.price is not None and types & {"PERCENT_PRICE", "PERCENT_PRICE_BY_SIDE"}:
            return True
    return False
