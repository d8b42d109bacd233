"""Stream events derived from the fake exchange's own state (web-socket-streams.md, user-data-stream.md).

:class:`Feed` keeps a snapshot of what it last reported (trade tape length, top of book, every
user order's status and fill, every account's balances). :meth:`Feed.collect`, called after each
request the exchange handles, compares and returns the events that happened in between:

* market: ``<symbol>@trade`` and ``@aggTrade`` per new trade, ``@bookTicker`` when the top of
  the book moved;
* user data, per account: ``executionReport`` when an order appeared, filled or ended, and
  ``outboundAccountPosition`` with the assets whose balances changed.

:func:`market_snapshot` renders the periodic streams (ticker, miniTicker, avgPrice, kline_<i>,
depth<N>) from the current state. Everything here runs under ``Exchange.lock``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .engine import ZERO, Account, Order
from .symbols import fmt

if TYPE_CHECKING:  # pragma: no cover
    from .exchange import Exchange

TERMINAL = frozenset({"FILLED", "CANCELED", "REJECTED", "EXPIRED", "EXPIRED_IN_MATCH"})
KLINE_MS = {"1s": 1_000, "1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000, "30m": 1_800_000,
            "1h": 3_600_000, "2h": 7_200_000, "4h": 14_400_000, "6h": 21_600_000, "8h": 28_800_000,
            "12h": 43_200_000, "1d": 86_400_000, "3d": 259_200_000, "1w": 604_800_000, "1M": 2_592_000_000}
STREAM_RE = re.compile(
    r"^(?P<symbol>[a-z0-9\u0080-\U0010ffff]{2,20})@(?P<kind>trade|aggTrade|miniTicker|ticker|bookTicker|avgPrice|"
    r"kline_(?P<interval>1s|1m|3m|5m|15m|30m|1h|2h|4h|6h|8h|12h|1d|3d|1w|1M)|depth(?P<levels>5|10|20)(?:@100ms)?)$"
)
PERIODIC_KINDS = ("miniTicker", "ticker", "avgPrice", "kline", "depth")


def parse_stream(name: str) -> re.Match[str] | None:
    """The parts of a market stream name this fake serves, or None."""
    return STREAM_RE.match(name)


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
    _orders: dict[tuple[str, int], _OrderMark] = field(default_factory=dict)
    _balances: dict[int, dict[str, tuple[Decimal, Decimal]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.collect()  # start from the current state: nothing that happened before is news

    def collect(self) -> tuple[list[tuple[str, dict[str, Any]]], list[tuple[Account, dict[str, Any]]]]:
        """Market events as (stream, payload) and user events as (account, event) since the last call."""
        ex = self.exchange
        now = ex.server_time_ms()
        market: list[tuple[str, dict[str, Any]]] = []
        for symbol, tape in ex.trades.items():
            seen = self._tape.get(symbol, 0)
            for trade in tape[seen:]:
                low = symbol.lower()
                common = {"E": now, "s": symbol, "p": fmt(trade.price), "q": fmt(trade.qty), "T": trade.time,
                          "m": trade.buyer_is_maker, "M": True}
                market.append((f"{low}@trade", {"e": "trade", **common, "t": trade.trade_id}))
                market.append((f"{low}@aggTrade", {"e": "aggTrade", **common, "a": trade.trade_id,
                                                   "f": trade.trade_id, "l": trade.trade_id}))
            self._tape[symbol] = len(tape)
        for symbol, book in ex.books.items():
            top = book_top(ex, symbol)
            if self._tops.get(symbol) != top:
                self._tops[symbol] = top
                market.append((f"{symbol.lower()}@bookTicker", {"u": book.update_id, "s": symbol, "b": top[0],
                                                               "B": top[1], "a": top[2], "A": top[3]}))
        user: list[tuple[Account, dict[str, Any]]] = []
        for order in list(ex.orders.values()):
            if order.account is None:
                continue
            key = (order.symbol, order.order_id)
            mark = self._orders.get(key)
            if mark is None:
                user.append((order.account, execution_report(order, now, "NEW", ZERO, ZERO, as_new=True)))
                if order.executed_qty > 0 or order.status in TERMINAL:
                    mark = _OrderMark("NEW", ZERO, ZERO)
            if mark is not None and (mark.status, mark.executed) != (order.status, order.executed_qty):
                last_qty = order.executed_qty - mark.executed
                last_quote = order.cum_quote - mark.quote
                kind = "TRADE" if last_qty > 0 else ("CANCELED" if order.status == "CANCELED" else
                                                       "EXPIRED" if order.status.startswith("EXPIRED") else
                                                       "REJECTED" if order.status == "REJECTED" else order.status)
                user.append((order.account, execution_report(order, now, kind, last_qty, last_quote)))
            self._orders[key] = _OrderMark(order.status, order.executed_qty, order.cum_quote)
        for account in ex.accounts:
            current = {asset: (pair[0], pair[1]) for asset, pair in account.balances.items()}
            before = self._balances.get(account.account_id)
            if before is not None and before != current:
                changed = sorted(a for a in current if before.get(a) != current[a])
                user.append((account, {"e": "outboundAccountPosition", "E": now, "u": account.update_time or now,
                                       "B": [{"a": a, "f": fmt(current[a][0]), "l": fmt(current[a][1])}
                                             for a in changed]}))
            self._balances[account.account_id] = current
        return market, user


def book_top(ex: "Exchange", symbol: str) -> tuple[str, str, str, str]:
    bids, asks = ex.books[symbol].depth("BUY", 1), ex.books[symbol].depth("SELL", 1)
    bid = bids[0] if bids else [fmt(ZERO), fmt(ZERO)]
    ask = asks[0] if asks else [fmt(ZERO), fmt(ZERO)]
    return bid[0], bid[1], ask[0], ask[1]


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
        "t": order.fills[-1].trade_id if kind == "TRADE" and order.fills else -1, "I": 0,
        "w": order.on_book or (as_new and order.type != "MARKET"), "m": kind == "TRADE" and not order.fills, "M": False, "O": order.time,
        "Z": fmt(cum_quote), "Y": fmt(last_quote), "Q": fmt(order.orig_quote_qty), "V": order.stp_mode,
    }
    if order.working_time >= 0:
        report["W"] = order.working_time
    return report


def market_snapshot(ex: "Exchange", stream: str, now: int) -> dict[str, Any] | None:
    """The current payload of a periodic stream (ticker, miniTicker, avgPrice, kline, depth)."""
    parts = parse_stream(stream)
    if parts is None:
        return None
    symbol = parts["symbol"].upper()
    if symbol not in ex.symbols:
        return None
    kind = parts["kind"]
    last = ex.last_price[symbol]
    tape = ex.trades[symbol]
    volume = sum((t.qty for t in tape), ZERO)
    quote = sum((t.qty * t.price for t in tape), ZERO)
    opening = tape[0].price if tape else last
    high = max((t.price for t in tape), default=last)
    low = min((t.price for t in tape), default=last)
    if kind == "miniTicker":
        return {"e": "24hrMiniTicker", "E": now, "s": symbol, "c": fmt(last), "o": fmt(opening), "h": fmt(high),
                "l": fmt(low), "v": fmt(volume), "q": fmt(quote)}
    if kind == "ticker":
        bid, bid_qty, ask, ask_qty = book_top(ex, symbol)
        change = last - opening
        percent = (change / opening * 100) if opening else ZERO
        return {"e": "24hrTicker", "E": now, "s": symbol, "p": fmt(change), "P": fmt(percent, 3),
                "w": fmt(quote / volume if volume else last), "x": fmt(opening), "c": fmt(last),
                "Q": fmt(tape[-1].qty if tape else ZERO), "b": bid, "B": bid_qty, "a": ask, "A": ask_qty,
                "o": fmt(opening), "h": fmt(high), "l": fmt(low), "v": fmt(volume), "q": fmt(quote),
                "O": now - 86_400_000, "C": now, "F": tape[0].trade_id if tape else -1,
                "L": tape[-1].trade_id if tape else -1, "n": len(tape)}
    if kind == "avgPrice":
        return {"e": "avgPrice", "E": now, "s": symbol, "i": "5m", "w": fmt(ex.avg_price(symbol)),
                "T": tape[-1].time if tape else now}
    if kind.startswith("kline_"):
        interval = parts["interval"]
        size = KLINE_MS[interval]
        start = now - now % size
        bar = [t for t in tape if t.time >= start]
        return {"e": "kline", "E": now, "s": symbol, "k": {
            "t": start, "T": start + size - 1, "s": symbol, "i": interval,
            "f": bar[0].trade_id if bar else -1, "L": bar[-1].trade_id if bar else -1,
            "o": fmt(bar[0].price if bar else last), "c": fmt(bar[-1].price if bar else last),
            "h": fmt(max((t.price for t in bar), default=last)), "l": fmt(min((t.price for t in bar), default=last)),
            "v": fmt(sum((t.qty for t in bar), ZERO)), "n": len(bar), "x": False,
            "q": fmt(sum((t.qty * t.price for t in bar), ZERO)), "V": "0.00000000", "Q": "0.00000000", "B": "0"}}
    if kind.startswith("depth"):
        levels = int(parts["levels"])
        book = ex.books[symbol]
        return {"lastUpdateId": book.update_id, "bids": book.depth("BUY", levels), "asks": book.depth("SELL", levels)}
    return None
