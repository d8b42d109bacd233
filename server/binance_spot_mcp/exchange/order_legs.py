"""The orders a tool call would create, read from its parameters: one ``Leg`` per order.

A single order is one leg; an order list is two or three (OCO: above and below; OTO/OPO: working
and pending; OTOCO/OPOCO: working, pending above, pending below). Each leg keeps the wire name of
each of its parameters (``pendingAboveStopPrice``), so a message about it names what the caller
sent. Values are read as exact ``Decimal`` (``wire_decimal``); anything that does not parse is
treated as unknown, never as zero.

``filters`` checks each leg against the symbol's filters; ``pricing`` values them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

MAX_WIRE_DIGITS = 40  # a value with more integer or fraction digits is not a Binance decimal: skip it

SINGLE_ORDER_TOOLS = frozenset(
    {"place_order", "test_order", "place_sor_order", "test_sor_order", "cancel_replace_order"}
)
ORDER_LIST_TOOLS = frozenset(
    {
        "place_oco_deprecated",
        "place_order_list_oco",
        "place_order_list_oto",
        "place_order_list_otoco",
        "place_order_list_opo",
        "place_order_list_opoco",
    }
)
ORDER_TOOLS = SINGLE_ORDER_TOOLS | ORDER_LIST_TOOLS


# ---------------------------------------------------------------------------------- decimals
def wire_decimal(value: Any) -> Decimal | None:
    """A finite, non-negative Decimal from a wire value, or None (missing or unparseable)."""
    if value is None or isinstance(value, (bool, float)):
        return None
    try:
        out = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    if not out.is_finite() or out < 0:
        return None
    if out and (out.adjusted() > MAX_WIRE_DIGITS or out.as_tuple().exponent < -MAX_WIRE_DIGITS):
        return None
    return out


# ---------------------------------------------------------------------------------- order legs
@dataclass(frozen=True)
class Leg:
    """One order of a call, with the wire names of its parameters (for messages)."""

    type: str
    side: str
    quantity: Decimal | None
    quote_qty: Decimal | None
    price: Decimal | None
    stop_price: Decimal | None
    iceberg_qty: Decimal | None
    trailing_delta: Decimal | None
    pegged: bool
    names: Mapping[str, str] = field(default_factory=dict)

    def name(self, canonical: str) -> str:
        return self.names.get(canonical, canonical)


_ABSENT = ""  # a key no order parameter has: the leg does not take that parameter


def _wire(prefix: str, name: str) -> str:
    return name if not prefix else prefix + name[0].upper() + name[1:]


def _make_leg(
    params: Mapping[str, str],
    prefix: str,
    *,
    side_key: str | None = None,
    quantity_key: str | None = None,
    order_type: str | None = None,
    price_key: str | None = None,
    iceberg_key: str | None = None,
    stop_key: str | None = None,
    trailing_key: str | None = None,
) -> Leg:
    names = {
        "type": _wire(prefix, "type"),
        "side": side_key or _wire(prefix, "side"),
        "quantity": quantity_key or _wire(prefix, "quantity"),
        "quoteOrderQty": _wire(prefix, "quoteOrderQty"),
        "price": price_key or _wire(prefix, "price"),
        "stopPrice": _wire(prefix, "stopPrice") if stop_key is None else stop_key,
        "icebergQty": iceberg_key or _wire(prefix, "icebergQty"),
        "trailingDelta": trailing_key or _wire(prefix, "trailingDelta"),
        "pegPriceType": _wire(prefix, "pegPriceType"),
    }
    return Leg(
        type=str(order_type or params.get(names["type"]) or "").upper(),
        side=str(params.get(names["side"]) or "").upper(),
        quantity=wire_decimal(params.get(names["quantity"])),
        quote_qty=wire_decimal(params.get(names["quoteOrderQty"])) if not prefix else None,
        price=wire_decimal(params.get(names["price"])),
        stop_price=wire_decimal(params.get(names["stopPrice"])) if names["stopPrice"] else None,
        iceberg_qty=wire_decimal(params.get(names["icebergQty"])),
        trailing_delta=wire_decimal(params.get(names["trailingDelta"])),
        pegged=bool(params.get(names["pegPriceType"])),
        names=names,
    )


def order_legs(tool: str, params: Mapping[str, str]) -> list[Leg]:
    """The orders a tool call would create, each with its own parameters."""
    if tool in SINGLE_ORDER_TOOLS:
        return [_make_leg(params, "")]
    if tool == "place_oco_deprecated":
        stop_type = "STOP_LOSS_LIMIT" if params.get("stopLimitPrice") else "STOP_LOSS"
        return [
            _make_leg(params, "limit", side_key="side", quantity_key="quantity", order_type="LIMIT_MAKER",
                      price_key="price", stop_key=_ABSENT),
            _make_leg(params, "stop", side_key="side", quantity_key="quantity", order_type=stop_type,
                      price_key="stopLimitPrice", stop_key="stopPrice", trailing_key="trailingDelta"),
        ]
    if tool == "place_order_list_oco":
        return [_make_leg(params, p, side_key="side", quantity_key="quantity") for p in ("above", "below")]
    if tool in ("place_order_list_oto", "place_order_list_opo"):
        return [_make_leg(params, "working"), _make_leg(params, "pending")]
    if tool in ("place_order_list_otoco", "place_order_list_opoco"):
        pending = {"side_key": "pendingSide", "quantity_key": "pendingQuantity"}
        return [
            _make_leg(params, "working"),
            _make_leg(params, "pendingAbove", **pending),
            _make_leg(params, "pendingBelow", **pending),
        ]
    return []

