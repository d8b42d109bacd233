"""Account events for paper orders, in the user data stream's shapes (user-data-stream.md):
``executionReport`` for each order change and fill, ``outboundAccountPosition`` for the balances
a change touched. The desk hands them to whoever listens for the account (the stream tools)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from binance_spot_mcp.paper.ledger import OrderRow
from binance_spot_mcp.paper.views import d8

Listener = Callable[[dict[str, Any]], None]


def execution_report(order: OrderRow, exec_type: str, now_ms: int, *, fill: tuple[Decimal, Decimal, Decimal, str, int, bool] | None = None,
                     ) -> dict[str, Any]:
    """One executionReport; ``fill`` is (price, qty, commission, commission asset, trade id, is maker)."""
    price, qty, fee, fee_asset, trade_id, maker = fill or (Decimal(0), Decimal(0), Decimal(0), None, -1, False)
    return {
        "e": "executionReport", "E": now_ms, "s": order.symbol, "c": order.client_order_id, "S": order.side,
        "o": order.type, "f": order.time_in_force or "GTC", "q": d8(order.orig_qty), "p": d8(order.price),
        "P": d8(order.stop_price), "F": d8(Decimal(0)), "g": order.order_list_id, "C": "", "x": exec_type,
        "X": order.status, "r": "NONE", "i": order.order_id, "l": d8(qty), "z": d8(order.executed_qty),
        "L": d8(price), "n": d8(fee), "N": fee_asset, "T": now_ms, "t": trade_id, "I": trade_id if fill else 0,
        "w": order.is_open and order.is_working, "m": maker, "M": False, "O": order.time_ms,
        "Z": d8(order.cum_quote), "Y": d8(price * qty), "Q": d8(order.orig_quote_qty),
        "W": order.working_ms, "V": order.stp_mode, "environment": "paper",
    }


def account_position(balances: dict[str, tuple[Decimal, Decimal]], assets: Iterable[str], now_ms: int) -> dict[str, Any]:
    rows = [{"a": a, "f": d8(balances.get(a, (Decimal(0), Decimal(0)))[0]), "l": d8(balances.get(a, (Decimal(0), Decimal(0)))[1])}
            for a in sorted(set(assets))]
    return {"e": "outboundAccountPosition", "E": now_ms, "u": now_ms, "B": rows, "environment": "paper"}


def list_event(row: Any, legs: list[OrderRow], now_ms: int) -> dict[str, Any]:
    """A listStatus event (user-data-stream.md) for a paper order list and its legs."""
    done = not any(leg.is_open for leg in legs)
    return {
        "e": "listStatus", "E": now_ms, "s": row["symbol"], "g": row["list_id"], "c": row["contingency"],
        "l": "ALL_DONE" if done else "EXEC_STARTED", "L": "ALL_DONE" if done else "EXECUTING", "r": "NONE",
        "C": row["list_client_id"], "T": now_ms,
        "O": [{"s": leg.symbol, "i": leg.order_id, "c": leg.client_order_id} for leg in legs], "environment": "paper",
    }


class EventHub:
    """Listeners per paper account name; a listener that raises is dropped, never the desk's call."""

    def __init__(self) -> None:
        self._listeners: dict[str, list[Listener]] = {}

    def listen(self, account: str, listener: Listener) -> None:
        self._listeners.setdefault(account, []).append(listener)

    def unlisten(self, account: str, listener: Listener) -> None:
        listeners = self._listeners.get(account, [])
        if listener in listeners:
            listeners.remove(listener)

    def listening(self, account: str) -> bool:
        return bool(self._listeners.get(account))

    def emit(self, account: str, events: Iterable[dict[str, Any]]) -> None:
        for event in events:
            for listener in list(self._listeners.get(account, [])):
                try:
                    listener(event)
                except Exception:  # noqa: BLE001 - a broken listener must not break trading
                    self.unlisten(account, listener)


def order_events(order: OrderRow, fills: Iterable[tuple[Any, Decimal, str, int]], now_ms: int, *, maker: bool,
                 announce: bool) -> list[dict[str, Any]]:
    """The executionReports of an order's change: NEW (when ``announce``), one TRADE per fill with the
    running totals, and EXPIRED when the order ended without filling completely."""
    from dataclasses import replace

    events = []
    fills = list(fills)
    done_qty = order.executed_qty - sum((f.qty for f, *_ in fills), Decimal(0))
    done_quote = order.cum_quote - sum((f.price * f.qty for f, *_ in fills), Decimal(0))
    if announce:
        events.append(execution_report(replace(order, status="NEW", executed_qty=done_qty, cum_quote=done_quote), "NEW", now_ms))
    for fill, fee, fee_asset, trade_id in fills:
        done_qty += fill.qty
        done_quote += fill.price * fill.qty
        status = "FILLED" if done_qty >= order.orig_qty else "PARTIALLY_FILLED"
        state = replace(order, status=status, executed_qty=done_qty, cum_quote=done_quote)
        events.append(execution_report(state, "TRADE", now_ms, fill=(fill.price, fill.qty, fee, fee_asset, trade_id, maker)))
    if order.status in ("EXPIRED", "CANCELED"):
        events.append(execution_report(order, order.status if order.status == "EXPIRED" else "CANCELED", now_ms))
    return events
