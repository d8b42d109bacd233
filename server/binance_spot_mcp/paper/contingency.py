"""Which leg of an OCO executes first, and what happens to the other (pure: no I/O).

The first leg to execute (a fill of the LIMIT_MAKER leg or a trigger of the stop leg, whichever
comes at the earlier aggregate trade) expires the other, as Binance does; the lock the list holds
passes to the winner.
"""

from __future__ import annotations

from decimal import Decimal

from binance_spot_mcp.paper.ledger import OrderRow
from binance_spot_mcp.paper.matching import AggTrade, Resting, first_trigger, match_trades

STOP_TYPES = ("STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT")


def leg_price(order: OrderRow) -> Decimal:
    return order.price or order.stop_price


def settle_lists(orders: dict[int, OrderRow], trades: list[AggTrade]) -> list[tuple[OrderRow, OrderRow]]:
    """For each open OCO among ``orders``: which leg executes first in ``trades``. The other leg is
    expired and its lock moved to the winner. Returns (winner, expired) pairs; the caller then
    triggers and matches as usual (an expired leg is no longer open)."""
    out = []
    by_list: dict[int, list[OrderRow]] = {}
    for order in orders.values():
        if order.order_list_id >= 0 and order.is_open:
            by_list.setdefault(order.order_list_id, []).append(order)
    if not by_list:
        return out
    settled: list[tuple[OrderRow, OrderRow]] = []
    losers: set[int] = set()
    for _ in range(len(by_list) + 1):  # a losing leg takes no liquidity: settle again without it
        first_fill = _first_fills(orders, trades, losers)
        settled = [pair for legs in by_list.values() if (pair := _settle(legs, trades, first_fill)) is not None]
        if {loser.order_id for _, loser in settled} == losers:
            break
        losers = {loser.order_id for _, loser in settled}
    for winner, loser in settled:
        winner.locked_asset = winner.locked_asset or loser.locked_asset
        winner.locked_left += loser.locked_left
        loser.locked_left = Decimal(0)
        loser.status = "EXPIRED"
        out.append((winner, loser))
    return out


def _first_fills(orders: dict[int, OrderRow], trades: list[AggTrade], excluded: set[int]) -> dict[int, int]:
    """The aggregate trade id of each resting order's first fill among all the account's resting
    orders (an older order at a leg's price is served first), leaving out ``excluded`` legs."""
    first_fill: dict[int, int] = {}
    competing = [Resting(o.order_id, o.side, o.price, o.remaining, o.queue_ahead, o.after_trade, o.order_id)
                 for o in orders.values() if o.is_open and o.is_working and o.order_id not in excluded
                 and o.type not in ("STOP_LOSS", "TAKE_PROFIT")]
    for key, fill in match_trades(competing, trades):
        first_fill.setdefault(key, int(fill.receipt["aggTradeId"]))
    return first_fill


def _settle(legs: list[OrderRow], trades: list[AggTrade], first_fill: dict[int, int]) -> tuple[OrderRow, OrderRow] | None:
    """(winner, loser) of one list: the leg that executes first, if either does."""
    if len(legs) != 2:
        return None
    first: tuple[int, OrderRow] | None = None
    for leg in legs:
        at = _first_execution(leg, trades, first_fill)
        if at is not None and (first is None or at < first[0]):
            first = (at, leg)
    if first is None:
        return None
    return first[1], legs[0] if legs[1] is first[1] else legs[1]


def _first_execution(leg: OrderRow, trades: list[AggTrade], first_fill: dict[int, int]) -> int | None:
    if leg.type in STOP_TYPES and not leg.is_working:
        trigger = first_trigger(leg.type, leg.side, leg.stop_price, leg.after_trade, trades)
        return trigger.id if trigger else None
    return first_fill.get(leg.order_id)
