"""Order placement and execution on the fake exchange's books.

:meth:`OrderExecution.place` validates an order, matches it against the book (``engine.py``
plans the fills), settles each fill on both accounts with commission, records the trade and
rests or expires what is left. :meth:`OrderExecution.cancel` takes an order off the book and
frees its locked funds. After a fill, the order-list contingencies run: in an OCO the fill
expires the sibling; a filled working order of an OTO/OTOCO/OPO/OPOCO activates the pending
legs, and a fill of one pending leg of an OTOCO/OPOCO expires the other.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .engine import (
    ZERO,
    Account,
    Book,
    Fill,
    Order,
    Trade,
    consume_locked,
    ensure_not_limit_maker_cross,
    lock_for,
    new_client_id,
    plan_fills,
    release,
    reserve,
)
from .errors import ApiError, rejected
from .orderlists import OrderList
from .symbols import SymbolSpec
from .validation import STOP_TYPES


class OrderExecution:
    """Placing, filling and cancelling orders, mixed into :class:`~.exchange.Exchange`.

    Uses the exchange's ``books``, ``orders``, ``order_lists``, ``trades``, ``last_price``,
    ``symbols``, its order and trade id counters, :meth:`server_time_ms` and the checks of
    :class:`~.validation.OrderValidation`.
    """

    def _new_order(self, account: Account, spec: SymbolSpec, o: dict[str, Any], now: int,
                   list_id: int = -1) -> Order:
        order_id = self._next_order_id[spec.symbol]
        self._next_order_id[spec.symbol] += 1
        order = Order(
            symbol=spec.symbol, order_id=order_id,
            client_order_id=o.get("newClientOrderId") or new_client_id(), side=o["side"], type=o["type"],
            price=o.get("price") or ZERO, orig_qty=o.get("quantity") or ZERO, account=account,
            time_in_force=o.get("timeInForce") or "GTC", stop_price=o.get("stopPrice"),
            iceberg_qty=o.get("icebergQty"), orig_quote_qty=o.get("quoteOrderQty") or ZERO,
            order_list_id=list_id, time=now, update_time=now,
            stp_mode=o.get("selfTradePreventionMode") or "EXPIRE_MAKER",
        )
        for name in ("strategyId", "strategyType", "trailingDelta", "pegPriceType", "pegOffsetType",
                     "pegOffsetValue"):
            if o.get(name) is not None:
                order.extra[name] = o[name]
        if "trailingDelta" in order.extra:
            order.extra["trailingTime"] = -1
        return order

    def place(self, account: Account, spec: SymbolSpec, o: dict[str, Any], now: int, *,
              list_id: int = -1, pending: bool = False, lock_stop: bool = True) -> Order:
        """Validate and execute one order; returns the stored order."""
        self._check_order(account, spec, o)
        self._check_duplicate(account, spec.symbol, o.get("newClientOrderId"))
        if pending:
            order = self._new_order(account, spec, o, now, list_id)
            order.status = "PENDING_NEW"
            self.orders[(spec.symbol, order.order_id)] = order
            return order
        self._resolve_peg(spec, o)
        book = self.books[spec.symbol]
        otype, side = o["type"], o["side"]
        if otype in STOP_TYPES:
            order = self._new_order(account, spec, o, now, list_id)
            if lock_stop:
                asset, amount = lock_for(order, spec, order.orig_qty)
                reserve(account, asset, amount)
                order.locked_asset, order.locked_amount = asset, amount
            self.orders[(spec.symbol, order.order_id)] = order
            return order
        if otype == "LIMIT_MAKER":
            ensure_not_limit_maker_cross(book, side, o["price"])
        limit = None if otype == "MARKET" else o["price"]
        plan = [] if otype == "LIMIT_MAKER" else plan_fills(
            book, side, limit, o.get("quantity"), o.get("quoteOrderQty"), spec.step)
        filled = sum((q for _, q in plan), ZERO)
        cost = sum((q * m.price for m, q in plan), ZERO)
        if otype == "MARKET" and o.get("quoteOrderQty") is not None and not plan:
            raise rejected("Order book liquidity is less than symbol minimum quantity.")
        tif = o.get("timeInForce") or "GTC"
        if otype == "LIMIT" and tif == "FOK" and filled < o["quantity"]:
            plan, filled, cost = [], ZERO, ZERO
        qty_total = o.get("quantity") if o.get("quantity") is not None else filled
        rest = qty_total - filled if (otype in ("LIMIT", "LIMIT_MAKER") and tif == "GTC") else ZERO
        if side == "BUY":
            reserve_asset, needed = spec.quote, cost + (o.get("price") or ZERO) * rest
        else:
            reserve_asset, needed = spec.base, filled + rest
        if account.free(reserve_asset) < needed:
            raise rejected("Account has insufficient balance for requested action.")
        order = self._new_order(account, spec, o, now, list_id)
        if otype == "MARKET" and o.get("quoteOrderQty") is not None:
            order.orig_qty = filled
        order.working_time = now
        self.orders[(spec.symbol, order.order_id)] = order
        for maker, qty in plan:
            self._execute(book, spec, order, maker, qty, now)
        if rest > 0:
            asset, amount = lock_for(order, spec, rest)
            reserve(account, asset, amount)
            order.locked_asset, order.locked_amount = asset, amount
            book.add(order)
            order.status = "PARTIALLY_FILLED" if order.executed_qty > 0 else "NEW"
        elif order.executed_qty >= order.orig_qty and order.orig_qty > 0:
            order.status = "FILLED"
        else:
            order.status = "EXPIRED"
            order.extra["expiryReason"] = ("UNFILLED_FOK_ORDER_EXPIRED" if tif == "FOK" and otype == "LIMIT"
                                           else "UNFILLED_IOC_QUANTITY_EXPIRED" if otype == "LIMIT"
                                           else "INSUFFICIENT_LIQUIDITY")
        self._after_execution(order, now)
        return order

    def _resolve_peg(self, spec: SymbolSpec, o: dict[str, Any]) -> None:
        peg = o.get("pegPriceType")
        if peg is None or o.get("price") is not None:
            return
        book = self.books[spec.symbol]
        same = book.best(o["side"])
        opposite = book.best("SELL" if o["side"] == "BUY" else "BUY")
        ref = same if peg == "PRIMARY_PEG" else opposite
        if ref is None:
            raise rejected("Order book liquidity is too low for this pegged order.")
        o["price"] = ref.price

    def _execute(self, book: Book, spec: SymbolSpec, taker: Order, maker: Order, qty: Decimal, now: int) -> None:
        price = maker.price
        quote = qty * price
        trade_id = self._next_trade_id[spec.symbol]
        self._next_trade_id[spec.symbol] += 1
        taker_comm = self._settle(taker, spec, qty, quote, taker=True)
        maker_comm = self._settle(maker, spec, qty, quote, taker=False)
        taker.fills.append(Fill(price, qty, taker_comm, _bnb_fee_asset(taker) or (spec.base if taker.side == "BUY" else spec.quote), trade_id))
        for o in (taker, maker):
            o.executed_qty += qty
            o.cum_quote += quote
            o.update_time = now
        maker.status = "FILLED" if maker.remaining <= 0 else "PARTIALLY_FILLED"
        if maker.remaining <= 0:
            book.remove(maker)
            release(maker)
        else:  # a level's quantity changed: a book update with its own id (diff depth, lastUpdateId)
            book.update_id += 1
        buy, sell = (taker, maker) if taker.side == "BUY" else (maker, taker)
        self.trades[spec.symbol].append(Trade(
            trade_id, spec.symbol, price, qty, now, buyer_is_maker=(maker.side == "BUY"), buy_order=buy,
            sell_order=sell, buy_commission=taker_comm if buy is taker else maker_comm,
            sell_commission=taker_comm if sell is taker else maker_comm,
            buy_commission_asset=_bnb_fee_asset(buy), sell_commission_asset=_bnb_fee_asset(sell)))
        self.last_price[spec.symbol] = price
        if maker.account is not None:
            self._after_execution(maker, now)

    def _settle(self, order: Order, spec: SymbolSpec, qty: Decimal, quote: Decimal, *, taker: bool) -> Decimal:
        account = order.account
        if account is None:
            return ZERO
        rate = account.taker_rate if taker else account.maker_rate
        # A buyer pays quote and receives base, a seller the other way round; commission is taken
        # from what is received. A maker pays from what its resting order had locked.
        if order.side == "BUY":
            paid_asset, paid, got_asset, got = spec.quote, quote, spec.base, qty
        else:
            paid_asset, paid, got_asset, got = spec.base, qty, spec.quote, quote
        if taker:
            account.bal(paid_asset)[0] -= paid
        else:
            consume_locked(order, paid)
        if account.bnb_fee_per_fill is not None:
            account.bal("BNB")[0] -= account.bnb_fee_per_fill
            account.bal(got_asset)[0] += got
            return account.bnb_fee_per_fill
        commission = (got * rate).quantize(Decimal("0.00000001"))
        account.bal(got_asset)[0] += got - commission
        account.update_time = self.server_time_ms()
        return commission

    def cancel(self, order: Order, now: int, status: str = "CANCELED") -> None:
        """Cancel/expire an open order and free its locked funds."""
        if not order.is_open:
            return
        if order.on_book:
            self.books[order.symbol].remove(order)
        release(order)
        order.status = status
        order.update_time = now

    def _after_execution(self, order: Order, now: int) -> None:
        """Order-list contingencies: OCO cancels the sibling, OTO/OPO activates pending legs."""
        olist = self.order_lists.get(order.order_list_id) if order.order_list_id != -1 else None
        if olist is None or order.executed_qty <= 0 or order not in olist.orders:
            return
        working = olist.orders[0]
        if olist.kind == "OCO":
            for sibling in olist.orders:
                if sibling is not order and sibling.is_open:
                    self.cancel(sibling, now, status="EXPIRED")
        elif order is working:
            if order.status == "FILLED":
                self._activate_pending(olist, now)
        elif olist.kind in ("OTOCO", "OPOCO"):
            for sibling in olist.orders[1:]:
                if sibling is not order and sibling.is_open:
                    self.cancel(sibling, now, status="EXPIRED")

    def _activate_pending(self, olist: OrderList, now: int) -> None:
        spec = self.symbols[olist.symbol]
        for leg in olist.orders[1:]:
            if leg.status != "PENDING_NEW":
                continue
            leg.working_time = now
            leg.update_time = now
            if leg.type in STOP_TYPES:
                leg.status = "NEW"
                continue
            if leg.type == "LIMIT_MAKER" or leg.type == "LIMIT":
                try:
                    if leg.type == "LIMIT_MAKER":
                        ensure_not_limit_maker_cross(self.books[olist.symbol], leg.side, leg.price)
                    asset, amount = lock_for(leg, spec, leg.remaining)
                    reserve(olist.account, asset, amount)
                except ApiError:
                    leg.status = "EXPIRED"
                    continue
                leg.locked_asset, leg.locked_amount = asset, amount
                leg.status = "NEW"
                self.books[olist.symbol].add(leg)
            else:
                leg.status = "NEW"


def _bnb_fee_asset(order: Order) -> str:
    """"BNB" when the order's account pays its fees in BNB, else "" (the asset it receives)."""
    return "BNB" if order.account is not None and order.account.bnb_fee_per_fill is not None else ""
