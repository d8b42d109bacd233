"""Checks an order must pass before the fake exchange places it.

The per-type parameter rules of ``POST /api/v3/order`` (which of quantity, quoteOrderQty, price,
timeInForce, stopPrice and trailingDelta each type needs or refuses), the symbol's served filters
(``filters.py``), the iceberg rules, and the duplicate-clientOrderId check.
"""

from __future__ import annotations

from typing import Any

from .engine import Account
from .errors import ApiError, mandatory, rejected
from .filters import ALGO_TYPES, OpenCounts, check_order_filters
from .symbols import SymbolSpec

STOP_TYPES = frozenset({"STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"})


class OrderValidation:
    """Order checks, mixed into :class:`~.exchange.Exchange`.

    Uses the exchange's ``orders``, :meth:`exchange_filters` and :meth:`filter_price`.
    """

    def _check_order(self, account: Account, spec: SymbolSpec, o: dict[str, Any]) -> None:
        otype, qty, _price = o["type"], o.get("quantity"), o.get("price")
        pegged = "pegPriceType" in o

        def need(name: str) -> None:
            if o.get(name) is None:
                raise mandatory(name)

        if otype == "MARKET":
            if qty is None and o.get("quoteOrderQty") is None:
                raise ApiError(-1102, "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!")
            if qty is not None and o.get("quoteOrderQty") is not None:
                raise ApiError(-1106, "Parameter 'quoteOrderQty' sent when not required.")
            for extra in ("price", "timeInForce", "stopPrice"):
                if o.get(extra) is not None:
                    raise ApiError(-1106, f"Parameter '{extra}' sent when not required.")
        else:
            if o.get("quoteOrderQty") is not None:
                raise ApiError(-1106, "Parameter 'quoteOrderQty' sent when not required.")
            need("quantity")
            if otype in ("LIMIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT", "LIMIT_MAKER") and not pegged:
                need("price")
            if otype in ("LIMIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"):
                need("timeInForce")
            elif o.get("timeInForce") is not None and otype in ("STOP_LOSS", "TAKE_PROFIT"):
                raise ApiError(-1106, "Parameter 'timeInForce' sent when not required.")
            if otype in STOP_TYPES and o.get("stopPrice") is None and o.get("trailingDelta") is None:
                raise ApiError(-1102, "Param 'stopPrice' or 'trailingDelta' must be sent, but both were empty/null!")
            if otype in ("LIMIT", "LIMIT_MAKER") and o.get("stopPrice") is not None:
                raise ApiError(-1106, "Parameter 'stopPrice' sent when not required.")
        strategy_type = o.get("strategyType")
        if strategy_type is not None and strategy_type < 1000000:
            raise ApiError(-1134, "`strategyType` was less than 1000000.")
        if pegged and otype in ("MARKET", "STOP_LOSS", "TAKE_PROFIT"):
            raise rejected("This order type may not use pegged price.")
        self._check_filters(account, spec, o)

    def _check_filters(self, account: Account, spec: SymbolSpec, o: dict[str, Any]) -> None:
        """Apply the symbol's served filters (filters.md formulas, see ``filters.py``)."""
        counts = OpenCounts()
        for x in self.orders.values():
            if x.account is account and x.is_open:
                counts.exchange_orders += 1
                if x.symbol == spec.symbol:
                    counts.symbol_orders += 1
                    counts.symbol_algo += x.type in ALGO_TYPES
        check_order_filters(spec.filters(), self.exchange_filters(), o, self.filter_price(spec.symbol), counts)
        iceberg, qty = o.get("icebergQty"), o.get("quantity")
        if iceberg is not None and qty is not None:
            if iceberg >= qty:
                raise rejected("IcebergQty exceeds QTY.")
            if o.get("timeInForce", "GTC") != "GTC":
                raise ApiError(-1013, "Unsupported order combination")

    def _check_duplicate(self, account: Account, symbol: str, client_id: str | None) -> None:
        if client_id is None:
            return
        if any(o.account is account and o.symbol == symbol and o.client_order_id == client_id and o.is_open
               for o in self.orders.values()):
            raise rejected("Duplicate order sent.")
