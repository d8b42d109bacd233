"""Stream events derived from the fake exchange's own state (web-socket-streams.md, user-data-stream.md).

:class:`Feed` keeps a snapshot of what it last reported (trade tape length, top of book, every book
level, every user order's status and fill, every order list's status, every account's balances).
:meth:`Feed.collect`, called after each request the exchange handles, compares and returns the
events that happened in between:

* market: ``<symbol>@trade`` and ``@aggTrade`` per new trade, ``@bookTicker`` when the top of the
  book moved, and the diff depth ``depthUpdate`` (on ``@depth`` and ``@depth@100ms``) when any
  level changed. ``U`` is the previous event's ``u`` + 1 and ``u`` the book's update id, the one
  ``GET /api/v3/depth`` reports as ``lastUpdateId``, so the documented local-book procedure holds.
  Binance batches these every 1000 or 100 ms; the fake sends one per request that changed the book
  (sooner, never out of order);
* user data, per account: ``executionReport`` when an order appeared, one per trade it took part in
  (its own quantity, price, commission and asset, trade id and maker flag, and an execution id
  ``I`` that rises across the exchange), and when it ended; ``listStatus`` after the reports of an
  order list's legs when the list was placed and when it is done; ``outboundAccountPosition``
  with the assets whose balances changed.

Everything here runs under ``Exchange.lock``. The periodic streams are rendered by
:mod:`.ws_market`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .engine import ZERO, Account, Order, Trade
from .symbols import fmt
from .ws_market import market_snapshot, parse_stream  # noqa: F401  (re-exported for older callers)

if TYPE_CHECKING:  # pragma: no cover
    from .exchange import Exchange
    from .orderlists import OrderList

TERMINAL = frozenset({"FILLED", "CANCELED", "REJECTED", "EXPIRED", "EXPIRED_IN_MATCH"})
Levels = dict[str, str]  # price -> quantity, one side of a book


@dataclass
class _OrderMark:
    status: str
    executed: Decimal
    quote: Decimal


@dataclass
class Feed:
    exchange: "Exchange"
    _tape: dict[str, int] = field(default_factory=dict)
    _tops: dict[str, tuple[str, str, str, str]] = field(default_factory=dict)
    _levels: dict[str, tuple[Levels, Levels]] = field(default_factory=dict)
    _depth_ids: dict[str, int] = field(default_factory=dict)
    _orders: dict[tuple[str, int], _OrderMark] = field(default_factory=dict)
    _lists: dict[int, str] = field(default_factory=dict)
    _balances: dict[int, dict[str, tuple[Decimal, Decimal]]] = field(default_factory=dict)
    _execution_id: int = 0

    def __post_init__(self) -> None:
        self.collect()  # start from the current state: nothing that happened before is news

    def collect(self) -> tuple[list[tuple[str, dict[str, Any]]], list[tuple[Account, dict[str, Any]]]]:
        """Market events as (stream, payload) and user events as (account, event) since the last call."""
        ex = self.exchange
        now = ex.server_time_ms()
        new_trades: list[Trade] = []
        for symbol, tape in ex.trades.items():
            new_trades += tape[self._tape.get(symbol, 0):]
            self._tape[symbol] = len(tape)
        market = [event for trade in new_trades for event in _trade_events(trade, now)]
        for symbol in ex.books:
            market += self._book_events(symbol, now)
        user: list[tuple[Account, dict[str, Any]]] = []
        for order in list(ex.orders.values()):
            if order.account is not None and (order.symbol, order.order_id) not in self._orders:
                report = self._report(order, now, "NEW", as_new=True)
                user.append((order.account, report))
                self._orders[(order.symbol, order.order_id)] = _OrderMark(report["X"], ZERO, ZERO)
        last_fill = {id(o): i for i, t in enumerate(new_trades) for o in (t.buy_order, t.sell_order)}
        for i, trade in enumerate(new_trades):
            for order, commission in ((trade.buy_order, trade.buy_commission), (trade.sell_order, trade.sell_commission)):
                if order.account is not None:
                    last = last_fill[id(order)] == i
                    user.append((order.account, self._fill_report(order, trade, commission, now, last=last)))
        for order in list(ex.orders.values()):
            mark = self._orders.get((order.symbol, order.order_id))
            if order.account is not None and mark is not None and mark.status != order.status:
                kind = "TRADE" if order.status in ("FILLED", "PARTIALLY_FILLED") else _END_KIND.get(order.status, order.status)
                if kind != "TRADE":
                    user.append((order.account, self._report(order, now, kind)))
                mark.status = order.status
        user += self._list_events(now)
        user += self._balance_events(now)
        return market, user

    # ------------------------------------------------------------------ market
    def _book_events(self, symbol: str, now: int) -> list[tuple[str, dict[str, Any]]]:
        book = self.exchange.books[symbol]
        low = symbol.lower()
        events: list[tuple[str, dict[str, Any]]] = []
        top = book_top(self.exchange, symbol)
        if self._tops.get(symbol) != top:
            self._tops[symbol] = top
            events.append((f"{low}@bookTicker", {"u": book.update_id, "s": symbol, "b": top[0], "B": top[1],
                                                "a": top[2], "A": top[3]}))
        levels = (_side(book.depth("BUY", 1 << 30)), _side(book.depth("SELL", 1 << 30)))
        before = self._levels.get(symbol)
        self._levels[symbol] = levels
        last_u = self._depth_ids.get(symbol)
        self._depth_ids[symbol] = max(book.update_id, (last_u or 0))
        if before is None or last_u is None or (before == levels and book.update_id == last_u):
            return events
        depth = {"e": "depthUpdate", "E": now, "s": symbol, "U": last_u + 1, "u": max(book.update_id, last_u + 1),
                 "b": _changes(before[0], levels[0]), "a": _changes(before[1], levels[1])}
        self._depth_ids[symbol] = depth["u"]
        events += [(f"{low}@depth", depth), (f"{low}@depth@100ms", depth)]
        return events

    # ------------------------------------------------------------------ user data
    def _next_execution_id(self) -> int:
        self._execution_id += 1
        return self._execution_id

    def _report(self, order: Order, now: int, kind: str, *, as_new: bool = False) -> dict[str, Any]:
        mark = self._orders.get((order.symbol, order.order_id))
        executed, quote = (mark.executed, mark.quote) if mark else (ZERO, ZERO)
        report = execution_report(order, now, kind, ZERO, ZERO, as_new=as_new)
        report.update({"z": fmt(executed), "Z": fmt(quote), "I": self._next_execution_id()})
        return report

    def _fill_report(self, order: Order, trade: Trade, commission: Decimal, now: int, *, last: bool) -> dict[str, Any]:
        """The report of one trade of ``order`` (``last``: its last trade of this batch)."""
        mark = self._orders.setdefault((order.symbol, order.order_id), _OrderMark("NEW", ZERO, ZERO))
        mark.executed += trade.qty
        mark.quote += trade.qty * trade.price
        done = last and order.status == "FILLED"
        report = execution_report(order, now, "TRADE", trade.qty, trade.qty * trade.price)
        spec = self.exchange.symbols[order.symbol]
        maker = trade.buyer_is_maker == (order.side == "BUY")
        report.update({
            "X": "FILLED" if done else "PARTIALLY_FILLED", "z": fmt(mark.executed), "Z": fmt(mark.quote),
            "L": fmt(trade.price), "n": fmt(commission), "N": spec.base if order.side == "BUY" else spec.quote,
            "t": trade.trade_id, "I": self._next_execution_id(), "m": maker, "T": trade.time,
            "w": order.on_book if last else maker})
        return report

    def _list_events(self, now: int) -> list[tuple[Account, dict[str, Any]]]:
        events: list[tuple[Account, dict[str, Any]]] = []
        for olist in list(self.exchange.order_lists.values()):
            status = olist.status()
            if self._lists.get(olist.order_list_id) != status["listStatusType"]:
                self._lists[olist.order_list_id] = status["listStatusType"]
                events.append((olist.account, list_status(olist, now)))
        return events

    def _balance_events(self, now: int) -> list[tuple[Account, dict[str, Any]]]:
        events: list[tuple[Account, dict[str, Any]]] = []
        for account in self.exchange.accounts:
            current = {asset: (pair[0], pair[1]) for asset, pair in account.balances.items()}
            before = self._balances.get(account.account_id)
            if before is not None and before != current:
                changed = sorted(a for a in current if before.get(a) != current[a])
                events.append((account, {"e": "outboundAccountPosition", "E": now, "u": account.update_time or now,
                                         "B": [{"a": a, "f": fmt(current[a][0]), "l": fmt(current[a][1])}
                                               for a in changed]}))
            self._balances[account.account_id] = current
        return events


_END_KIND = {"CANCELED": "CANCELED", "REJECTED": "REJECTED", "EXPIRED": "EXPIRED", "EXPIRED_IN_MATCH": "EXPIRED",
             "NEW": "NEW"}


def _trade_events(trade: Trade, now: int) -> list[tuple[str, dict[str, Any]]]:
    low = trade.symbol.lower()
    common = {"E": now, "s": trade.symbol, "p": fmt(trade.price), "q": fmt(trade.qty), "T": trade.time,
              "m": trade.buyer_is_maker, "M": True}
    return [(f"{low}@trade", {"e": "trade", **common, "t": trade.trade_id}),
            (f"{low}@aggTrade", {"e": "aggTrade", **common, "a": trade.trade_id, "f": trade.trade_id,
                                 "l": trade.trade_id})]


def _side(levels: list[list[str]]) -> Levels:
    return {price: qty for price, qty in levels}


def _changes(before: Levels, after: Levels) -> list[list[str]]:
    """The levels to set: new or changed quantities, and removed levels with quantity zero."""
    gone = [[price, fmt(ZERO)] for price in before if price not in after]
    return [[price, qty] for price, qty in after.items() if before.get(price) != qty] + gone


def book_top(ex: "Exchange", symbol: str) -> tuple[str, str, str, str]:
    bids, asks = ex.books[symbol].depth("BUY", 1), ex.books[symbol].depth("SELL", 1)
    bid = bids[0] if bids else [fmt(ZERO), fmt(ZERO)]
    ask = asks[0] if asks else [fmt(ZERO), fmt(ZERO)]
    return bid[0], bid[1], ask[0], ask[1]


def list_status(olist: "OrderList", now: int) -> dict[str, Any]:
    """A ``listStatus`` event for the order list as it is now."""
    status = olist.status()
    return {"e": "listStatus", "E": now, "s": olist.symbol, "g": olist.order_list_id,
            "c": status["contingencyType"], "l": status["listStatusType"], "L": status["listOrderStatus"],
            "r": "NONE", "C": olist.list_client_order_id, "T": now,
            "O": [{"s": o["symbol"], "i": o["orderId"], "c": o["clientOrderId"]} for o in status["orders"]]}


def execution_report(order: Order, now: int, kind: str, last_qty: Decimal, last_quote: Decimal, *,
                     as_new: bool = False) -> dict[str, Any]:
    """An ``executionReport`` event for the order as it is now (``as_new``: as it was when accepted)."""
    status = "PENDING_NEW" if as_new and order.status == "PENDING_NEW" else "NEW" if as_new else order.status
    executed, cum_quote = (ZERO, ZERO) if as_new else (order.executed_qty, order.cum_quote)
    last_price = (last_quote / last_qty) if last_qty > 0 else ZERO
    report: dict[str, Any] = {
        "e": "executionReport", "E": now, "s": order.symbol, "c": order.client_order_id, "S": order.side,
        "o": order.type, "f": order.time_in_force, "q": fmt(order.orig_qty), "p": fmt(order.price),
        "P": fmt(order.stop_price or ZERO), "F": fmt(order.iceberg_qty or ZERO), "g": order.order_list_id,
        "C": "", "x": kind, "X": status, "r": "NONE", "i": order.order_id, "l": fmt(last_qty),
        "z": fmt(executed), "L": fmt(last_price), "n": "0", "N": None, "T": order.update_time or now,
        "t": -1, "I": 0, "w": order.on_book or (as_new and order.type != "MARKET"), "m": False, "M": False,
        "O": order.time, "Z": fmt(cum_quote), "Y": fmt(last_quote), "Q": fmt(order.orig_quote_qty),
        "V": order.stp_mode,
    }
    if order.working_time >= 0:
        report["W"] = order.working_time
    if kind == "EXPIRED":
        report["eR"] = "OCO_TRIGGER" if order.order_list_id != -1 else (
            "UNFILLED_FOK_ORDER_EXPIRED" if order.time_in_force == "FOK" else
            "UNFILLED_IOC_QUANTITY_EXPIRED" if order.time_in_force == "IOC" else "INSUFFICIENT_LIQUIDITY")
    return report
