"""The parameters an order type makes mandatory (rest-api.md, "additional mandatory parameters").

Checked locally, with the other argument checks, so that an incomplete order is refused before
any question (account, CONFIRM) is put to the human and before anything is sent:

* ``LIMIT``: timeInForce, quantity, price;
* ``MARKET``: exactly one of quantity and quoteOrderQty;
* ``STOP_LOSS`` / ``TAKE_PROFIT``: quantity, and stopPrice and/or trailingDelta;
* ``STOP_LOSS_LIMIT`` / ``TAKE_PROFIT_LIMIT``: timeInForce, quantity, price, and stopPrice
  and/or trailingDelta;
* ``LIMIT_MAKER``: quantity, price;
* with pegPriceType, price is optional; an order with icebergQty must have timeInForce GTC.

Order lists apply the same rules to each leg through the leg's own parameter names
(``aboveType`` -> ``abovePrice``, ``pendingType`` -> ``pendingTimeInForce``, ...). A rule only
names parameters the tool actually has (an OPO's pending leg takes its quantity from the working leg).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass

PRICE = "price"
QUANTITY = "quantity"
QUOTE_QTY = "quoteOrderQty"
STOP_PRICE = "stopPrice"
TRAILING_DELTA = "trailingDelta"
TIME_IN_FORCE = "timeInForce"
ICEBERG_QTY = "icebergQty"
PEG_PRICE_TYPE = "pegPriceType"
ICEBERG_TIME_IN_FORCE = "GTC"

# type -> parameters it needs (price is waived for pegged orders)
NEEDS: dict[str, tuple[str, ...]] = {
    "LIMIT": (TIME_IN_FORCE, QUANTITY, PRICE),
    "MARKET": (),
    "STOP_LOSS": (QUANTITY,),
    "TAKE_PROFIT": (QUANTITY,),
    "STOP_LOSS_LIMIT": (TIME_IN_FORCE, QUANTITY, PRICE),
    "TAKE_PROFIT_LIMIT": (TIME_IN_FORCE, QUANTITY, PRICE),
    "LIMIT_MAKER": (QUANTITY, PRICE),
}
TRIGGERED = frozenset({"STOP_LOSS", "TAKE_PROFIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"})


@dataclass(frozen=True)
class Leg:
    """One order of a call: the parameter holding its type, and the wire name of each canonical one."""

    type_param: str
    prefix: str = ""
    shared_quantity: str | None = None  # order lists whose legs share one quantity parameter

    def name(self, canonical: str) -> str:
        if canonical == QUANTITY and self.shared_quantity:
            return self.shared_quantity
        return canonical if not self.prefix else self.prefix + canonical[0].upper() + canonical[1:]


_SINGLE = (Leg("type"),)
LEGS: dict[str, tuple[Leg, ...]] = {
    "place_order": _SINGLE,
    "test_order": _SINGLE,
    "cancel_replace_order": _SINGLE,
    "place_sor_order": _SINGLE,
    "test_sor_order": _SINGLE,
    "place_order_list_oco": (Leg("aboveType", "above", QUANTITY), Leg("belowType", "below", QUANTITY)),
    "place_order_list_oto": (Leg("workingType", "working"), Leg("pendingType", "pending")),
    "place_order_list_opo": (Leg("workingType", "working"), Leg("pendingType", "pending")),
    "place_order_list_otoco": (
        Leg("workingType", "working"),
        Leg("pendingAboveType", "pendingAbove", "pendingQuantity"),
        Leg("pendingBelowType", "pendingBelow", "pendingQuantity"),
    ),
    "place_order_list_opoco": (
        Leg("workingType", "working"),
        Leg("pendingAboveType", "pendingAbove", "pendingQuantity"),
        Leg("pendingBelowType", "pendingBelow", "pendingQuantity"),
    ),
}


def _leg_problems(leg: Leg, values: Mapping[str, str], known: Collection[str]) -> Iterator[tuple[str, str]]:
    order_type = values.get(leg.type_param)
    if order_type not in NEEDS:
        return  # absent (an optional leg) or not a known type: the enum check reports it

    def has(canonical: str) -> bool:
        return values.get(leg.name(canonical)) is not None

    def takes(canonical: str) -> bool:
        return leg.name(canonical) in known

    what = f"{leg.type_param}={order_type}"
    pegged = has(PEG_PRICE_TYPE)
    for canonical in NEEDS[order_type]:
        if canonical == PRICE and pegged:
            continue
        if takes(canonical) and not has(canonical):
            yield leg.name(canonical), f"{what} needs {leg.name(canonical)}"
    if order_type == "MARKET" and takes(QUANTITY) and takes(QUOTE_QTY):
        if has(QUANTITY) == has(QUOTE_QTY):
            yield leg.name(QUANTITY), f"{what} needs exactly one of {leg.name(QUANTITY)} and {leg.name(QUOTE_QTY)}"
    elif order_type == "MARKET" and takes(QUANTITY) and not has(QUANTITY):
        yield leg.name(QUANTITY), f"{what} needs {leg.name(QUANTITY)}"
    if order_type in TRIGGERED and takes(STOP_PRICE) and not (has(STOP_PRICE) or has(TRAILING_DELTA)):
        yield leg.name(STOP_PRICE), f"{what} needs {leg.name(STOP_PRICE)} and/or {leg.name(TRAILING_DELTA)}"
    tif = values.get(leg.name(TIME_IN_FORCE))
    if has(ICEBERG_QTY) and tif is not None and tif != ICEBERG_TIME_IN_FORCE:
        yield leg.name(TIME_IN_FORCE), f"an order with {leg.name(ICEBERG_QTY)} needs {leg.name(TIME_IN_FORCE)}=GTC"


def order_type_problems(tool: str, values: Mapping[str, str], known: Collection[str]) -> list[tuple[str, str]]:
    """(parameter, problem) for every parameter the call's order type(s) need but lack.

    ``values`` are the call's wire values; ``known`` the parameters the tool takes."""
    problems: list[tuple[str, str]] = []
    for leg in LEGS.get(tool, ()):
        problems.extend(_leg_problems(leg, values, known))
    return problems
