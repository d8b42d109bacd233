"""The paper fill model, as pure functions over ``Decimal`` (no I/O, no clock, no database).

* A MARKET order, and the marketable part of a LIMIT order, walks a depth snapshot level by level
  (asks upwards for a BUY, bids downwards for a SELL): one fill per level, at the level's price,
  never more than the level holds. A ``quoteOrderQty`` order spends (BUY) or receives (SELL) at
  most that amount; its quantity per level is rounded down to the symbol's step.
* A resting LIMIT order fills from the market's aggregate trades after it was placed: a trade at
  a strictly better price than the order's fills it (up to the trade's quantity); a trade *at* the
  order's price fills it only once the quantity that stood ahead of it in the book at placement
  has traded at that price, and only when the trade's aggressor came from the other side (for a
  resting BUY, a seller-initiated trade: ``m`` true). A fill is at the order's own price (maker).
  One trade's quantity is shared by the account's orders in price-time priority, never counted twice.
* STOP_LOSS / TAKE_PROFIT (and their LIMIT forms) trigger on the first trade at or through the
  stop price (filters.md / enums.md: a SELL stop loss when the price falls to it, a SELL take
  profit when it rises to it; the reverse for a BUY).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal, localcontext

BUY, SELL = "BUY", "SELL"


@dataclass(frozen=True)
class Level:
    price: Decimal
    qty: Decimal


@dataclass(frozen=True)
class Fill:
    price: Decimal
    qty: Decimal
    # What the fill was matched against: {"source": "book", "lastUpdateId": n, "level": i, ...}
    # or {"source": "aggTrade", "aggTradeId": n, ...}
    receipt: Mapping[str, object] = field(default_factory=dict)

    @property
    def quote(self) -> Decimal:
        return self.price * self.qty


@dataclass(frozen=True)
class AggTrade:
    id: int
    price: Decimal
    qty: Decimal
    buyer_is_maker: bool
    time: int


def floor_step(value: Decimal, step: Decimal) -> Decimal:
    if step <= 0:
        return value
    return (value / step).to_integral_value(rounding=ROUND_DOWN) * step


def parse_levels(raw: Iterable[Sequence[str]]) -> list[Level]:
    """``[["price", "qty"], ...]`` from a depth reply, empty and malformed levels dropped."""
    out = []
    for item in raw:
        try:
            price, qty = Decimal(str(item[0])), Decimal(str(item[1]))
        except (ArithmeticError, IndexError, TypeError, ValueError):
            continue
        if price.is_finite() and qty.is_finite() and price > 0 and qty > 0:
            out.append(Level(price, qty))
    return out


def _crosses(side: str, level_price: Decimal, limit: Decimal | None) -> bool:
    if limit is None:
        return True
    return level_price <= limit if side == BUY else level_price >= limit


def walk_book(
    side: str,
    levels: Sequence[Level],
    *,
    quantity: Decimal | None = None,
    quote_quantity: Decimal | None = None,
    limit_price: Decimal | None = None,
    step: Decimal = Decimal(0),
    book_id: int | None = None,
) -> list[Fill]:
    """Fills for taking liquidity from ``levels`` (the opposite side, best first).

    Exactly one of ``quantity`` / ``quote_quantity``. Stops at the limit price, at the end of the
    levels, or when the order is complete; the caller decides what an incomplete walk means."""
    if (quantity is None) == (quote_quantity is None):
        raise ValueError("give exactly one of quantity and quote_quantity")
    fills: list[Fill] = []
    left_qty = quantity
    left_quote = quote_quantity
    for index, level in enumerate(levels):
        if not _crosses(side, level.price, limit_price):
            break
        if left_qty is not None:
            take = min(left_qty, level.qty)
        else:
            assert left_quote is not None
            with localcontext() as ctx:
                ctx.rounding = ROUND_DOWN  # never a hair more than the quote pays for
                take = min(level.qty, floor_step(left_quote / level.price, step))
        if take <= 0:
            break
        receipt = {"source": "book", "lastUpdateId": book_id, "level": index,
                   "levelPrice": str(level.price), "levelQty": str(level.qty)}
        fills.append(Fill(level.price, take, receipt))
        if left_qty is not None:
            left_qty -= take
            if left_qty <= 0:
                break
        else:
            assert left_quote is not None
            left_quote -= take * level.price
            if left_quote <= 0 or take < level.qty:
                break  # what is left buys less than a step here: never skip to a worse level
    return fills


def filled(fills: Iterable[Fill]) -> tuple[Decimal, Decimal]:
    """Total base quantity and quote amount of ``fills``."""
    qty = quote = Decimal(0)
    for f in fills:
        qty += f.qty
        quote += f.price * f.qty
    return qty, quote


@dataclass
class Resting:
    """A resting LIMIT order as the catch-up sees it (mutable: the catch-up updates it)."""

    key: int  # the order id
    side: str
    price: Decimal
    remaining: Decimal
    queue_ahead: Decimal  # quantity ahead of it at its price when it was placed
    after_trade: int  # only aggregate trades with a larger id can fill it
    placed: int  # time priority (order id order is fine: ids grow)


def priority(order: Resting) -> tuple[int, Decimal, int]:
    """Price-time priority within a side: best price first, then the older order."""
    return (0 if order.side == BUY else 1, -order.price if order.side == BUY else order.price, order.placed)


def match_trades(orders: Sequence[Resting], trades: Sequence[AggTrade]) -> list[tuple[int, Fill]]:
    """Fill resting orders from aggregate trades, in trade order. Mutates ``orders``' remaining
    and queue; returns ``(order key, fill)`` pairs. A trade's quantity is shared by the orders."""
    out: list[tuple[int, Fill]] = []
    ranked = sorted(orders, key=priority)
    for trade in trades:
        left = {BUY: trade.qty, SELL: trade.qty}
        for order in ranked:
            if order.remaining <= 0 or trade.id <= order.after_trade:
                continue
            if order.side == BUY:
                better, at_price, aggressor_ok = trade.price < order.price, trade.price == order.price, trade.buyer_is_maker
            else:
                better, at_price, aggressor_ok = trade.price > order.price, trade.price == order.price, not trade.buyer_is_maker
            available = left[order.side]
            if available <= 0 or not (better or (at_price and aggressor_ok)):
                continue
            if at_price and order.queue_ahead > 0:
                used = min(order.queue_ahead, available)
                order.queue_ahead -= used
                available -= used
            take = min(order.remaining, available)
            left[order.side] = available - take
            if take <= 0:
                continue
            order.remaining -= take
            receipt = {"source": "aggTrade", "aggTradeId": trade.id, "tradePrice": str(trade.price),
                       "tradeQty": str(trade.qty), "tradeTime": trade.time}
            out.append((order.key, Fill(order.price, take, receipt)))
    return out


def stop_triggered(order_type: str, side: str, stop_price: Decimal, trade_price: Decimal) -> bool:
    """Does a trade at ``trade_price`` trigger this stop order?"""
    falls_to = trade_price <= stop_price
    rises_to = trade_price >= stop_price
    if order_type.startswith("STOP_LOSS"):
        return falls_to if side == SELL else rises_to
    if order_type.startswith("TAKE_PROFIT"):
        return rises_to if side == SELL else falls_to
    return False


def first_trigger(order_type: str, side: str, stop_price: Decimal, after_trade: int,
                  trades: Sequence[AggTrade]) -> AggTrade | None:
    for trade in trades:
        if trade.id > after_trade and stop_triggered(order_type, side, stop_price, trade.price):
            return trade
    return None
