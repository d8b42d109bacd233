"""Order book, orders, balances and a simple price-time matching engine."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Any, Optional

from .errors import ApiError, insufficient_balance, rejected
from .symbols import SymbolSpec, fmt

ZERO = Decimal(0)
OPEN_STATUSES = frozenset({"NEW", "PARTIALLY_FILLED", "PENDING_NEW"})
_ALPHABET = string.ascii_letters + string.digits


def new_client_id() -> str:
    """A random 22-character client id like the ones Binance generates."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(22))


def floor_to(value: Decimal, step: Decimal) -> Decimal:
    """Round ``value`` down to a multiple of ``step``."""
    if step <= 0:
        return value
    return (value / step).to_integral_value(rounding=ROUND_DOWN) * step


@dataclass
class Account:
    """A trading account with balances and registered API keys."""

    account_id: int
    balances: dict[str, list[Decimal]] = field(default_factory=dict)  # asset -> [free, locked]
    maker_rate: Decimal = Decimal("0.001")
    taker_rate: Decimal = Decimal("0.001")
    update_time: int = 0
    # BNB fee discount (rest-api.md "commissionAsset"): when set, every fill of this account pays
    # this much BNB as its commission, and what it receives is not reduced.
    bnb_fee_per_fill: Decimal | None = None

    def bal(self, asset: str) -> list[Decimal]:
        """Mutable [free, locked] pair for an asset."""
        return self.balances.setdefault(asset, [ZERO, ZERO])

    def free(self, asset: str) -> Decimal:
        """Free balance."""
        return self.bal(asset)[0]


@dataclass
class Fill:
    """One execution of a taker order."""

    price: Decimal
    qty: Decimal
    commission: Decimal
    commission_asset: str
    trade_id: int


@dataclass
class Order:
    """An order (user order or seeded liquidity when ``account`` is None)."""

    symbol: str
    order_id: int
    client_order_id: str
    side: str
    type: str
    price: Decimal
    orig_qty: Decimal
    account: Optional[Account] = None
    time_in_force: str = "GTC"
    stop_price: Decimal | None = None
    iceberg_qty: Decimal | None = None
    orig_quote_qty: Decimal = ZERO
    executed_qty: Decimal = ZERO
    cum_quote: Decimal = ZERO
    status: str = "NEW"
    order_list_id: int = -1
    time: int = 0
    update_time: int = 0
    working_time: int = -1
    stp_mode: str = "EXPIRE_MAKER"
    extra: dict[str, Any] = field(default_factory=dict)
    fills: list[Fill] = field(default_factory=list)
    locked_asset: str = ""
    locked_amount: Decimal = ZERO
    on_book: bool = False

    @property
    def remaining(self) -> Decimal:
        """Unfilled quantity."""
        return self.orig_qty - self.executed_qty

    @property
    def is_open(self) -> bool:
        """NEW / PARTIALLY_FILLED / PENDING_NEW."""
        return self.status in OPEN_STATUSES

    # ------------------------------------------------------------------ renderings
    def _conditional(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.iceberg_qty is not None:
            out["icebergQty"] = fmt(self.iceberg_qty)
        if self.type in ("STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"):
            out["stopPrice"] = fmt(self.stop_price or ZERO)
        out.update(self.extra)
        return out

    def ack(self, transact_time: int) -> dict[str, Any]:
        """ACK response."""
        return {"symbol": self.symbol, "orderId": self.order_id, "orderListId": self.order_list_id,
                "clientOrderId": self.client_order_id, "transactTime": transact_time}

    def result(self, transact_time: int) -> dict[str, Any]:
        """RESULT response."""
        out = self.ack(transact_time)
        out.update({
            "price": fmt(self.price), "origQty": fmt(self.orig_qty), "executedQty": fmt(self.executed_qty),
            "origQuoteOrderQty": fmt(self.orig_quote_qty), "cummulativeQuoteQty": fmt(self.cum_quote),
            "status": self.status, "timeInForce": self.time_in_force, "type": self.type, "side": self.side,
            "workingTime": self.working_time, "selfTradePreventionMode": self.stp_mode,
        })
        out.update(self._conditional())
        return out

    def full(self, transact_time: int) -> dict[str, Any]:
        """FULL response (RESULT plus fills)."""
        out = self.result(transact_time)
        out["fills"] = [
            {"price": fmt(f.price), "qty": fmt(f.qty), "commission": fmt(f.commission),
             "commissionAsset": f.commission_asset, "tradeId": f.trade_id}
            for f in self.fills
        ]
        return out

    def render(self, resp_type: str, transact_time: int) -> dict[str, Any]:
        """Render by newOrderRespType."""
        if resp_type == "ACK":
            return self.ack(transact_time)
        if resp_type == "RESULT":
            return self.result(transact_time)
        return self.full(transact_time)

    def query(self) -> dict[str, Any]:
        """GET /api/v3/order shape."""
        out = {
            "symbol": self.symbol, "orderId": self.order_id, "orderListId": self.order_list_id,
            "clientOrderId": self.client_order_id, "price": fmt(self.price), "origQty": fmt(self.orig_qty),
            "executedQty": fmt(self.executed_qty), "cummulativeQuoteQty": fmt(self.cum_quote),
            "status": self.status, "timeInForce": self.time_in_force, "type": self.type, "side": self.side,
            "stopPrice": fmt(self.stop_price or ZERO), "icebergQty": fmt(self.iceberg_qty or ZERO),
            "time": self.time, "updateTime": self.update_time, "isWorking": self.working_time != -1,
            "workingTime": self.working_time, "origQuoteOrderQty": fmt(self.orig_quote_qty),
            "selfTradePreventionMode": self.stp_mode,
        }
        out.update(self.extra)
        return out

    def cancel_report(self, cancel_client_id: str, transact_time: int) -> dict[str, Any]:
        """Cancel response shape."""
        out = {
            "symbol": self.symbol, "origClientOrderId": self.client_order_id, "orderId": self.order_id,
            "orderListId": self.order_list_id, "clientOrderId": cancel_client_id,
            "transactTime": transact_time, "price": fmt(self.price), "origQty": fmt(self.orig_qty),
            "executedQty": fmt(self.executed_qty), "origQuoteOrderQty": fmt(self.orig_quote_qty),
            "cummulativeQuoteQty": fmt(self.cum_quote), "status": self.status,
            "timeInForce": self.time_in_force, "type": self.type, "side": self.side,
            "selfTradePreventionMode": self.stp_mode,
        }
        out.update(self._conditional())
        return out


@dataclass
class Trade:
    """An executed trade (public tape + both sides' account trade records)."""

    trade_id: int
    symbol: str
    price: Decimal
    qty: Decimal
    time: int
    buyer_is_maker: bool
    buy_order: Order
    sell_order: Order
    buy_commission: Decimal
    sell_commission: Decimal
    buy_commission_asset: str = ""  # "" : the asset received (base for the buyer)
    sell_commission_asset: str = ""  # "" : the asset received (quote for the seller)


class Book:
    """Price-time priority book of one symbol."""

    def __init__(self, spec: SymbolSpec) -> None:
        self.spec = spec
        self.bids: list[Order] = []
        self.asks: list[Order] = []
        self.update_id = 1000

    def side(self, side: str) -> list[Order]:
        """Resting orders on ``side`` (BUY -> bids)."""
        return self.bids if side == "BUY" else self.asks

    def add(self, order: Order) -> None:
        """Insert keeping best price first, then time priority."""
        levels = self.side(order.side)
        better = (lambda a, b: a > b) if order.side == "BUY" else (lambda a, b: a < b)
        idx = len(levels)
        for i, other in enumerate(levels):
            if better(order.price, other.price):
                idx = i
                break
        levels.insert(idx, order)
        order.on_book = True
        self.update_id += 1

    def remove(self, order: Order) -> None:
        """Remove a resting order if present."""
        levels = self.side(order.side)
        if order in levels:
            levels.remove(order)
            self.update_id += 1
        order.on_book = False

    def best(self, side: str) -> Order | None:
        """Best resting order on a side."""
        levels = self.side(side)
        return levels[0] if levels else None

    def depth(self, side: str, limit: int) -> list[list[str]]:
        """Aggregated [price, qty] levels."""
        agg: dict[Decimal, Decimal] = {}
        for o in self.side(side):
            agg[o.price] = agg.get(o.price, ZERO) + o.remaining
        prices = sorted(agg, reverse=(side == "BUY"))[:limit]
        return [[fmt(p), fmt(agg[p])] for p in prices]


def crosses(side: str, limit: Decimal | None, maker_price: Decimal) -> bool:
    """Does a taker at ``limit`` (None = market) trade with a maker at ``maker_price``?"""
    if limit is None:
        return True
    return maker_price <= limit if side == "BUY" else maker_price >= limit


def plan_fills(
    book: Book, side: str, limit: Decimal | None, qty: Decimal | None, quote_qty: Decimal | None,
    step: Decimal,
) -> list[tuple[Order, Decimal]]:
    """Plan (maker, qty) executions without mutating anything."""
    opposite = "SELL" if side == "BUY" else "BUY"
    plan: list[tuple[Order, Decimal]] = []
    left_qty = qty
    left_quote = quote_qty
    for maker in book.side(opposite):
        if not crosses(side, limit, maker.price):
            break
        if left_qty is not None:
            take = min(left_qty, maker.remaining)
        else:
            assert left_quote is not None
            take = min(floor_to(left_quote / maker.price, step), maker.remaining)
        if take <= 0:
            break
        plan.append((maker, take))
        if left_qty is not None:
            left_qty -= take
            if left_qty <= 0:
                break
        else:
            left_quote -= take * maker.price  # type: ignore[operator]
            if left_quote <= 0:
                break
    return plan


def reserve(account: Account, asset: str, amount: Decimal) -> None:
    """Move ``amount`` from free to locked or fail with -2010."""
    pair = account.bal(asset)
    if pair[0] < amount:
        raise insufficient_balance()
    pair[0] -= amount
    pair[1] += amount


def release(order: Order, amount: Decimal | None = None) -> None:
    """Return locked funds of an order to free (all of it by default)."""
    if order.account is None or not order.locked_asset:
        return
    amount = order.locked_amount if amount is None else min(amount, order.locked_amount)
    pair = order.account.bal(order.locked_asset)
    pair[1] -= amount
    pair[0] += amount
    order.locked_amount -= amount


def consume_locked(order: Order, amount: Decimal) -> None:
    """Spend locked funds of a maker order (they leave the account)."""
    if order.account is None or not order.locked_asset:
        return
    amount = min(amount, order.locked_amount)
    order.account.bal(order.locked_asset)[1] -= amount
    order.locked_amount -= amount


def lock_for(order: Order, spec: SymbolSpec, qty: Decimal) -> tuple[str, Decimal]:
    """Asset and amount a resting order of ``qty`` must lock."""
    if order.side == "BUY":
        price = order.price if order.price > 0 else (order.stop_price or ZERO)
        return spec.quote, price * qty
    return spec.base, qty


def ensure_not_limit_maker_cross(book: Book, side: str, price: Decimal) -> None:
    """LIMIT_MAKER must not take liquidity."""
    opposite = book.best("SELL" if side == "BUY" else "BUY")
    if opposite is not None and crosses(side, price, opposite.price):
        raise rejected("Order would immediately match and take.")


__all__ = [
    "Account", "ApiError", "Book", "Fill", "Order", "Trade", "ZERO", "consume_locked", "crosses",
    "ensure_not_limit_maker_cross", "floor_to", "lock_for", "new_client_id", "plan_fills", "release",
    "reserve",
]
