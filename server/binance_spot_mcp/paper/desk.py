"""The paper desk: answers a paper account's signed endpoints on this computer, in Binance's shapes.

``PaperDesk.handle`` is called instead of sending a signed request (``routing``). Every call first
catches the account's resting orders up with the market (``Placer.catch_up``), so what a call
reports is as of now. What paper cannot simulate honestly is refused by name.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from binance_spot_mcp.catalog.endpoints import Endpoint
from binance_spot_mcp.errors import ExchangeError, hint_for
from binance_spot_mcp.paper import views
from binance_spot_mcp.paper.contingency import leg_price
from binance_spot_mcp.paper.events import EventHub
from binance_spot_mcp.paper.ledger import Ledger, OrderRow
from binance_spot_mcp.paper.lists import OrderLists
from binance_spot_mcp.paper.market import MarketData, PublicRead
from binance_spot_mcp.paper.placing import (
    PaperAccount,
    Placer,
    new_client_id,
    settings_of,
)
from binance_spot_mcp.store import Store

NOT_SIMULATED = {
    "place_sor_order": "smart order routing (SOR)",
    "test_sor_order": "smart order routing (SOR)",
    "place_oco_deprecated": "the deprecated OCO endpoint (use place_order_list_oco, which paper supports)",
    "place_order_list_oto": "an OTO order list",
    "place_order_list_otoco": "an OTOCO order list",
    "place_order_list_opo": "an OPO order list",
    "place_order_list_opoco": "an OPOCO order list",
    "get_allocations": "SOR allocations",
    "get_my_filters": "account filters",
}
MAX_TRADES = 1000


class PaperDesk:
    def __init__(self, store: Store, public: PublicRead, *, clock_ms: Callable[[], int] | None = None,
                 filters_prechecked: bool = False) -> None:
        self.ledger = Ledger(store)
        self.clock_ms = clock_ms or (lambda: int(time.time() * 1000))
        self.market = MarketData(public)
        self.events = EventHub()  # executionReport / outboundAccountPosition for the stream tools
        self.placer = Placer(self.ledger, self.market, self.clock_ms, self.events, filters_prechecked=filters_prechecked)
        self.lists = OrderLists(self.placer)

    async def handle(self, endpoint: Endpoint, params: Sequence[tuple[str, str]], account: PaperAccount) -> Any:
        tool = endpoint.tool
        if tool in NOT_SIMULATED:
            raise views.not_on_paper(NOT_SIMULATED[tool])
        p = dict(params)
        handler = getattr(self, f"_{tool}", None)
        if handler is None:
            raise views.not_on_paper(tool)
        if tool not in ("place_order", "test_order"):  # placing creates the account in its own write
            if p.get("symbol"):  # an unknown symbol is -1121 'Invalid symbol.', as on Binance (exchangeInfo is cached)
                await self.market.symbol_info(account.base_url, p["symbol"])
            await self._ensure(account)
            await self.placer.catch_up(account, only=p.get("symbol"))
        return await handler(tool, account, p)

    async def _ensure(self, account: PaperAccount) -> None:
        settings = settings_of(account)

        def ensure() -> None:
            with self.ledger.store.write() as db:
                self.ledger.ensure_account(db, account.name, settings.balances, self.clock_ms())

        await self.ledger.store.run(ensure)

    async def _announce(self, account: PaperAccount, orders: list[OrderRow]) -> None:
        """CANCELED executionReports and the balances they freed, to the account's listeners."""
        if self.events.listening(account.name):
            balances = await self._read(lambda db: self.ledger.balances(db, account.name))
            await self.placer.publish(account.name, balances, [(o, [], False, False) for o in orders], self.clock_ms())

    async def _read(self, fn: Callable[[Any], Any]) -> Any:
        def run() -> Any:
            with self.ledger.store.read() as db:
                return fn(db)

        return await self.ledger.store.run(run)

    async def _write(self, fn: Callable[[Any], Any]) -> Any:
        def run() -> Any:
            with self.ledger.store.write() as db:
                return fn(db)

        return await self.ledger.store.run(run)

    # ------------------------------------------------------------------ orders
    async def _place_order(self, tool: str, account: PaperAccount, p: dict[str, str]) -> Any:
        return await self.placer.place(tool, account, p)

    async def _test_order(self, tool: str, account: PaperAccount, p: dict[str, str]) -> Any:
        await self.placer.validate(tool, account, p)
        if p.get("computeCommissionRates") == "true":
            s = settings_of(account)
            zero = views.commission_block(Decimal(0), Decimal(0))
            return {"standardCommissionForOrder": {"maker": views.d8(s.maker_rate), "taker": views.d8(s.taker_rate)},
                    "specialCommissionForOrder": {"maker": zero["maker"], "taker": zero["taker"]},
                    "taxCommissionForOrder": {"maker": zero["maker"], "taker": zero["taker"]},
                    "discount": {"enabledForAccount": False, "enabledForSymbol": False, "discountAsset": "BNB",
                                 "discount": views.d8(Decimal(0))}}
        return {}

    def _find(self, db: Any, tool: str, account: PaperAccount, p: Mapping[str, str], *, missing: tuple[int, str]) -> OrderRow:
        if "orderId" not in p and "origClientOrderId" not in p:
            raise views.bad_param(tool, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
        order = self.ledger.find_order(db, account.name, p["symbol"],
                                       order_id=int(p["orderId"]) if "orderId" in p else None,
                                       client_order_id=p.get("origClientOrderId"))
        if order is None or ("origClientOrderId" in p and order.client_order_id != p["origClientOrderId"]):
            raise views.rejected(missing, tool)
        return order

    async def _get_order(self, tool: str, account: PaperAccount, p: dict[str, str]) -> Any:
        return views.order_view(await self._read(lambda db: self._find(db, tool, account, p, missing=views.NO_SUCH_ORDER)))

    async def _get_open_orders(self, tool: str, account: PaperAccount, p: dict[str, str]) -> Any:
        rows = await self._read(lambda db: self.ledger.orders(db, account.name, symbol=p.get("symbol"), open_only=True))
        return [views.order_view(o) for o in rows]

    async def _get_all_orders(self, tool: str, account: PaperAccount, p: dict[str, str]) -> Any:
        rows = await self._read(lambda db: self.ledger.orders(db, account.name, symbol=p["symbol"]))
        if "orderId" in p:
            rows = [o for o in rows if o.order_id >= int(p["orderId"])]
        rows = [o for o in rows if int(p.get("startTime", 0)) <= o.time_ms <= int(p.get("endTime", 1 << 62))]
        limit = min(int(p.get("limit", 500)), 1000)
        return [views.order_view(o) for o in (rows[:limit] if "orderId" in p else rows[-limit:])]

    def _cancel(self, db: Any, order: OrderRow, status: str = "CANCELED") -> None:
        order.status = status
        order.update_ms = self.clock_ms()
        self.placer.release(db, order)
        self.ledger.update_order(db, order)

    async def _cancel_order(self, tool: str, account: PaperAccount, p: dict[str, str]) -> Any:
        def cancel(db: Any) -> list[OrderRow]:
            order = self._find(db, tool, account, p, missing=views.UNKNOWN_ORDER)
            if not order.is_open:
                raise views.rejected(views.UNKNOWN_ORDER, tool)
            restriction = {"ONLY_NEW": "NEW", "ONLY_PARTIALLY_FILLED": "PARTIALLY_FILLED"}.get(p.get("cancelRestrictions", ""))
            if restriction is not None and order.status != restriction:  # rest-api.md: cancelRestrictions
                raise views.rejected((-2011, "Order was not canceled due to cancel restrictions."), tool)
            # A leg of an OCO takes its list with it (rest-api.md: canceling one cancels the whole list).
            legs = [o for o in self.ledger.orders(db, account.name, list_id=order.order_list_id, open_only=True)
                    if o.order_id != order.order_id] if order.order_list_id >= 0 else []
            self._cancel(db, order)
            for leg in legs:
                self._cancel(db, leg)
            return [order, *legs]

        order, *legs = await self._write(cancel)
        await self._announce(account, [order, *legs])
        return views.cancel_view(order, p.get("newClientOrderId") or new_client_id(), self.clock_ms())

    async def _cancel_open_orders(self, tool: str, account: PaperAccount, p: dict[str, str]) -> Any:
        def cancel(db: Any) -> tuple[list[OrderRow], dict[int, dict[str, Any]]]:
            orders = self.ledger.orders(db, account.name, symbol=p["symbol"], open_only=True)
            # Locks held by one leg of a list go back when that leg is canceled: cancel holders last.
            orders.sort(key=lambda o: o.locked_left > 0)
            if not orders:
                raise views.rejected((-2011, "Unknown order sent."), tool)
            for order in orders:
                self._cancel(db, order)
            lists = {o.order_list_id: self.lists.find(db, tool, account.name, {"orderListId": str(o.order_list_id)})
                     for o in orders if o.order_list_id >= 0}
            return orders, lists

        now = self.clock_ms()
        orders, lists = await self._write(cancel)
        await self._announce(account, orders)
        # rest-api.md: a plain order comes back as its cancel report, an order list as one list status
        # holding a report per leg
        out: list[dict[str, Any]] = []
        for order in sorted(orders, key=lambda o: o.order_id):
            if order.order_list_id < 0:
                out.append(views.cancel_view(order, new_client_id(), now))
            elif order.order_list_id in lists:
                status = lists.pop(order.order_list_id)
                status["orderReports"] = [views.cancel_view(o, new_client_id(), now) for o in orders
                                          if o.order_list_id == order.order_list_id]
                out.append(status)
        return out

    async def _cancel_replace_order(self, tool: str, account: PaperAccount, p: dict[str, str]) -> Any:
        mode = p.get("cancelReplaceMode", "STOP_ON_FAILURE")
        cancel_params = {k: v for k, v in p.items() if k in ("symbol", "cancelOrderId", "cancelOrigClientOrderId")}
        cancel_params = {"symbol": p["symbol"], **({"orderId": cancel_params["cancelOrderId"]} if "cancelOrderId" in cancel_params else {}),
                         **({"origClientOrderId": cancel_params["cancelOrigClientOrderId"]} if "cancelOrigClientOrderId" in cancel_params else {})}
        new_params = {k: v for k, v in p.items() if k not in ("cancelReplaceMode", "cancelOrderId", "cancelOrigClientOrderId",
                                                              "cancelNewClientOrderId", "cancelRestrictions", "orderRateLimitExceededMode")}
        if "cancelRestrictions" in p:
            cancel_params["cancelRestrictions"] = p["cancelRestrictions"]
        cancel_result: Any
        # rest-api.md: the new order's filters are evaluated before anything is canceled or placed
        await self.placer.validate("place_order", account, new_params)
        try:
            cancel_result = await self._cancel_order("cancel_order", account, {**cancel_params, **({"newClientOrderId": p["cancelNewClientOrderId"]} if "cancelNewClientOrderId" in p else {})})
            cancel_ok = True
        except ExchangeError as exc:  # reported in Binance's shape
            cancel_ok, cancel_result = False, {"code": exc.code, "msg": exc.msg}
            if mode == "STOP_ON_FAILURE":
                raise _cancel_replace_error(tool, cancel_result, {"code": -2021, "msg": "Order cancel-replace failed."}, "FAILURE", "NOT_ATTEMPTED") from None
        try:
            new_result = await self.placer.place("place_order", account, new_params)
            new_ok = True
        except ExchangeError as exc:
            new_ok, new_result = False, {"code": exc.code, "msg": exc.msg}
        if cancel_ok and new_ok:
            return {"cancelResult": "SUCCESS", "newOrderResult": "SUCCESS", "cancelResponse": cancel_result,
                    "newOrderResponse": new_result, "environment": views.ENVIRONMENT}
        raise _cancel_replace_error(tool, cancel_result, new_result, "SUCCESS" if cancel_ok else "FAILURE",
                                    "SUCCESS" if new_ok else "FAILURE")

    async def _amend_order_keep_priority(self, tool: str, account: PaperAccount, p: dict[str, str]) -> Any:
        new_qty = Decimal(p["newQty"])

        record: dict[str, int] = {}

        def amend(db: Any) -> tuple[OrderRow, str]:
            order = self._find(db, tool, account, p, missing=views.UNKNOWN_ORDER)
            if not order.is_open:
                raise views.rejected(views.UNKNOWN_ORDER, tool)
            if new_qty >= order.orig_qty:  # errors.md: -2038 for an amend that does not reduce
                raise views.rejected(views.SAME_QTY if new_qty == order.orig_qty else views.MORE_QTY, tool)
            if new_qty <= 0:
                raise views.bad_param(tool, "newQty must be greater than 0 and less than the order's quantity.")
            # rest-api.md: without newClientOrderId the amended order gets a new random one
            original_id, order.client_order_id = order.client_order_id, p.get("newClientOrderId") or new_client_id()
            record["execution"] = self.ledger.next_id(db, account.name, "trade")  # the amend's executionId
            db.execute("INSERT INTO paper_amendments VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",  # for get_order_amendments
                       (account.name, record["execution"], order.symbol, order.order_id, original_id, order.client_order_id,
                        views.d8(order.orig_qty), views.d8(max(new_qty, order.executed_qty)), self.clock_ms()))
            if new_qty <= order.executed_qty:
                order.orig_qty = order.executed_qty
                self._cancel(db, order, "FILLED")
                return order, original_id
            order.orig_qty = new_qty
            # One lock covers an OCO's open legs (its dearest): free only what no open leg may still spend.
            legs = [order] if order.order_list_id < 0 else [
                order if o.order_id == order.order_id else o
                for o in self.ledger.orders(db, account.name, list_id=order.order_list_id, open_only=True)]
            holder = next((o for o in legs if o.locked_left > 0), order)
            need = max(o.remaining if o.side == "SELL" else o.remaining * leg_price(o) for o in legs)
            amount = max(holder.locked_left - need, Decimal(0))
            if amount:
                self.ledger.move(db, account.name, holder.locked_asset, free=amount, locked=-amount)
                holder.locked_left -= amount
            order.update_ms = self.clock_ms()
            self.ledger.update_order(db, order)
            if holder is not order:
                self.ledger.update_order(db, holder)
            return order, original_id

        order, original_id = await self._write(amend)
        out = {"transactTime": self.clock_ms(), "executionId": record["execution"],
               "amendedOrder": views.amended_view(order, original_id), "environment": views.ENVIRONMENT}
        if order.order_list_id >= 0:  # rest-api.md: an order list's leg answers with the list's status too
            status = await self._read(lambda db: self.lists.find(db, tool, account.name, {"orderListId": str(order.order_list_id)}))
            out["listStatus"] = {k: v for k, v in status.items() if k not in ("listStatusType", "transactionTime")}
        return out

    # ------------------------------------------------------------------ order lists
    async def _place_order_list_oco(self, tool: str, account: PaperAccount, p: dict[str, str]) -> Any:
        return await self.lists.place_oco(tool, account, p)

    async def _cancel_order_list(self, tool: str, account: PaperAccount, p: dict[str, str]) -> Any:
        def cancel(db: Any) -> tuple[dict[str, Any], list[OrderRow]]:
            found = self.lists.find(db, tool, account.name, p)
            legs = self.ledger.orders(db, account.name, list_id=found["orderListId"], open_only=True)
            if not legs:
                raise views.rejected((-2011, "Order list is already done."), tool)
            for leg in legs:
                self._cancel(db, leg)
            return self.lists.find(db, tool, account.name, p), legs

        status, legs = await self._write(cancel)
        await self._announce(account, legs)
        now = self.clock_ms()
        status["orderReports"] = [views.cancel_view(o, new_client_id(), now) for o in legs]
        return status

    async def _get_order_list(self, tool: str, account: PaperAccount, p: dict[str, str]) -> Any:
        return await self._read(lambda db: self.lists.find(db, tool, account.name, p))

    async def _get_all_order_lists(self, tool: str, account: PaperAccount, p: dict[str, str]) -> Any:
        return await self._read(lambda db: self.lists.all_lists(db, account.name, open_only=False))

    async def _get_open_order_lists(self, tool: str, account: PaperAccount, p: dict[str, str]) -> Any:
        return await self._read(lambda db: self.lists.all_lists(db, account.name, open_only=True))

    # ------------------------------------------------------------------ account
    async def _get_account(self, tool: str, account: PaperAccount, p: dict[str, str]) -> Any:
        s = settings_of(account)
        balances = await self._read(lambda db: self.ledger.balances(db, account.name))
        return views.account_view(balances, s.maker_rate, s.taker_rate, self.clock_ms(), p.get("omitZeroBalances") == "true")

    async def _get_commission_rates(self, tool: str, account: PaperAccount, p: dict[str, str]) -> Any:
        await self.market.symbol_info(account.base_url, p["symbol"])
        s = settings_of(account)
        return views.commission_view(p["symbol"], s.maker_rate, s.taker_rate)

    async def _get_my_trades(self, tool: str, account: PaperAccount, p: dict[str, str]) -> Any:
        rows = await self._read(lambda db: self.ledger.trades(db, account.name, p["symbol"]))
        if "orderId" in p:
            rows = [r for r in rows if r["order_id"] == int(p["orderId"])]
        if "fromId" in p:
            rows = [r for r in rows if r["trade_id"] >= int(p["fromId"])]
        rows = [r for r in rows if int(p.get("startTime", 0)) <= r["time_ms"] <= int(p.get("endTime", 1 << 62))]
        limit = min(int(p.get("limit", 500)), MAX_TRADES)
        rows = rows[:limit] if "fromId" in p else rows[-limit:]
        return [views.trade_view(r) for r in rows]

    async def _get_unfilled_order_count(self, tool: str, account: PaperAccount, p: dict[str, str]) -> Any:
        return []  # paper orders count against no exchange limit

    async def _get_prevented_matches(self, tool: str, account: PaperAccount, p: dict[str, str]) -> Any:
        return []  # paper orders never match the account's own orders, so nothing is ever prevented

    async def _get_order_amendments(self, tool: str, account: PaperAccount, p: dict[str, str]) -> Any:
        def amendments(db: Any) -> list[dict[str, Any]]:
            order = self._find(db, tool, account, p, missing=views.NO_SUCH_ORDER)
            rows = db.execute("SELECT * FROM paper_amendments WHERE account = ? AND order_id = ? ORDER BY execution_id",
                              (account.name, order.order_id))
            return [{"symbol": r["symbol"], "orderId": r["order_id"], "executionId": r["execution_id"],
                     "origClientOrderId": r["orig_client_id"], "newClientOrderId": r["new_client_id"],
                     "origQty": r["orig_qty"], "newQty": r["new_qty"], "time": r["time_ms"]} for r in rows]

        return await self._read(amendments)


def _cancel_replace_error(tool: str, cancel: Any, new: Any, cancel_result: str, new_result: str) -> ExchangeError:
    """rest-api.md's table: one side failed -> HTTP 409, -2021; nothing succeeded -> HTTP 400, -2022."""
    data = {"cancelResult": cancel_result, "newOrderResult": new_result, "cancelResponse": cancel,
            "newOrderResponse": None if new_result == "NOT_ATTEMPTED" else new}
    if "SUCCESS" in (cancel_result, new_result):
        code, msg, status = -2021, "Order cancel-replace partially failed.", 409
    else:
        code, msg, status = -2022, "Order cancel-replace failed.", 400
    return ExchangeError(status=status, code=code, msg=msg, hint=hint_for(status, code, tool), data=data)
