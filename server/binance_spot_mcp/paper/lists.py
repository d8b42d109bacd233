"""OCO order lists on paper (POST /api/v3/orderList/oco and the list reads and cancels).

The two legs are ordinary paper orders sharing an ``orderListId``; what the list holds back is
locked once, on the first leg, and passes to whichever leg executes first (``contingency``), which
expires the other, as Binance does. A cancel of either leg, or of the list, cancels both.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from binance_spot_mcp.errors import ExchangeError, hint_for
from binance_spot_mcp.paper import views
from binance_spot_mcp.paper.contingency import STOP_TYPES, leg_price
from binance_spot_mcp.paper.ledger import InsufficientBalance, OrderRow
from binance_spot_mcp.paper.market import FIRST_DEPTH
from binance_spot_mcp.paper.matching import BUY, SELL, stop_triggered
from binance_spot_mcp.paper.placing import PaperAccount, Placer, new_client_id, settings_of

LEG_TYPES = ("LIMIT_MAKER", *STOP_TYPES)


def oco_legs(p: Mapping[str, str]) -> list[dict[str, str]]:
    """The two legs of an orderList/oco request as place_order parameters (stop leg first, as Binance lists them)."""
    legs = []
    for prefix in ("above", "below"):
        leg = {"symbol": p["symbol"], "side": p["side"], "quantity": p["quantity"], "type": p[f"{prefix}Type"]}
        for name, wire in (("price", "Price"), ("stopPrice", "StopPrice"), ("timeInForce", "TimeInForce"),
                           ("newClientOrderId", "ClientOrderId"), ("icebergQty", "IcebergQty"),
                           ("trailingDelta", "TrailingDelta"), ("pegPriceType", "PegPriceType")):
            if f"{prefix}{wire}" in p:
                leg[name] = p[f"{prefix}{wire}"]
        legs.append(leg)
    legs.sort(key=lambda leg: leg["type"] not in ("STOP_LOSS", "STOP_LOSS_LIMIT"))
    return legs


def list_status(row: sqlite3.Row, legs: list[OrderRow]) -> dict[str, Any]:
    done = not any(o.is_open for o in legs)
    return {
        "orderListId": row["list_id"], "contingencyType": row["contingency"],
        "listStatusType": "ALL_DONE" if done else "EXEC_STARTED",
        "listOrderStatus": "ALL_DONE" if done else "EXECUTING", "listClientOrderId": row["list_client_id"],
        "transactionTime": row["time_ms"], "symbol": row["symbol"],
        "orders": [{"symbol": o.symbol, "orderId": o.order_id, "clientOrderId": o.client_order_id} for o in legs],
        "environment": views.ENVIRONMENT,
    }


def _dec(value: str | None) -> Decimal:
    return Decimal(value) if value not in (None, "") else Decimal(0)


class OrderLists:
    """Places OCO lists and answers the list reads and cancels for paper accounts."""

    def __init__(self, placer: Placer) -> None:
        self.placer = placer
        self.ledger = placer.ledger

    async def place_oco(self, tool: str, account: PaperAccount, p: Mapping[str, str]) -> dict[str, Any]:
        legs = oco_legs(p)
        if not any(leg["type"] in ("STOP_LOSS", "STOP_LOSS_LIMIT") for leg in legs) and not any(
                leg["type"] == "LIMIT_MAKER" for leg in legs):
            raise ExchangeError(status=400, code=-1168, msg="At least one OCO order must be contingent.",
                                hint=hint_for(400, -1168, tool))
        infos = [await self.placer.validate("place_order", account, leg) for leg in legs]
        info = infos[0]
        await self.placer.catch_up(account, only=p["symbol"])
        symbol, side = p["symbol"], p["side"]
        after_trade, last = await self.placer.market.last_trade_id(account.base_url, symbol)
        last = last or await self.placer.market.last_price(account.base_url, symbol)
        book_id, bids, asks = await self.placer.market.depth(account.base_url, symbol, FIRST_DEPTH)
        maker = next((leg for leg in legs if leg["type"] == "LIMIT_MAKER"), None)
        stop = next((leg for leg in legs if leg["type"] in STOP_TYPES), None)
        if maker and stop and last is not None and stop["type"].startswith("STOP_LOSS"):
            price, trigger = _dec(maker.get("price")), _dec(stop.get("stopPrice"))
            if not ((price > last > trigger) if side == SELL else (price < last < trigger)):
                raise views.rejected((-2010, "The relationship of the prices for the orders is not correct."), tool)
        for leg in legs:
            if leg["type"] in STOP_TYPES and last is not None and stop_triggered(leg["type"], side, _dec(leg.get("stopPrice")), last):
                raise views.rejected(views.WOULD_TRIGGER, tool)
            opposite = asks if side == BUY else bids
            if leg["type"] == "LIMIT_MAKER" and opposite and (
                    opposite[0].price <= _dec(leg.get("price")) if side == BUY else opposite[0].price >= _dec(leg.get("price"))):
                raise views.rejected(views.WOULD_TAKE, tool)
        own = bids if side == BUY else asks
        now = self.placer.clock_ms()
        qty = _dec(p["quantity"])
        list_client_id = p.get("listClientOrderId") or new_client_id()
        settings = settings_of(account)

        def write() -> tuple[dict[str, Any], list[OrderRow], dict[str, tuple[Decimal, Decimal]]]:
            with self.ledger.store.write() as db:
                self.ledger.ensure_account(db, account.name, settings.balances, now)
                taken = db.execute("SELECT 1 FROM paper_lists l JOIN paper_orders o ON o.account = l.account AND "
                                   "o.order_list_id = l.list_id WHERE l.account = ? AND l.list_client_id = ? AND "
                                   "o.status IN ('NEW', 'PARTIALLY_FILLED')", (account.name, list_client_id)).fetchone()
                if taken:
                    raise views.rejected(views.DUPLICATE, tool)
                list_id = self.ledger.next_id(db, account.name, "list")
                db.execute("INSERT INTO paper_lists VALUES (?, ?, ?, ?, 'OCO', ?)", (account.name, list_id, symbol, list_client_id, now))
                rows = []
                for leg in legs:
                    price = _dec(leg.get("price"))
                    rows.append(OrderRow(
                        account=account.name, order_id=self.ledger.next_id(db, account.name, "order"), symbol=symbol,
                        client_order_id=leg.get("newClientOrderId") or new_client_id(), order_list_id=list_id,
                        side=side, type=leg["type"], time_in_force=leg.get("timeInForce") or ("GTC" if price else None),
                        price=price, orig_qty=qty, executed_qty=Decimal(0), cum_quote=Decimal(0),
                        orig_quote_qty=Decimal(0), status="NEW", stop_price=_dec(leg.get("stopPrice")), time_ms=now,
                        update_ms=now, working_ms=now, is_working=leg["type"] == "LIMIT_MAKER",
                        queue_ahead=sum((lv.qty for lv in own if lv.price == price), Decimal(0)) if leg["type"] == "LIMIT_MAKER" else Decimal(0),
                        after_trade=after_trade, base_asset=info["baseAsset"], quote_asset=info["quoteAsset"],
                        locked_asset="", locked_left=Decimal(0)))
                # One lock for the list: the quantity (SELL) or its dearest leg's value (BUY).
                holder = rows[0]
                holder.locked_asset = info["baseAsset"] if side == SELL else info["quoteAsset"]
                holder.locked_left = qty if side == SELL else qty * max(leg_price(r) for r in rows)
                self.ledger.move(db, account.name, holder.locked_asset, free=-holder.locked_left, locked=holder.locked_left)
                for row in rows:
                    self.ledger.insert_order(db, row)
                record = db.execute("SELECT * FROM paper_lists WHERE account = ? AND list_id = ?", (account.name, list_id)).fetchone()
                return list_status(record, rows), rows, self.ledger.balances(db, account.name)

        try:
            status, rows, balances = await self.ledger.store.run(write)
        except InsufficientBalance:
            raise views.rejected(views.INSUFFICIENT, tool) from None
        await self.placer.publish(account.name, balances, [(r, [], False, True) for r in rows], now)
        resp_type = p.get("newOrderRespType") or "RESULT"
        status["orderReports"] = [views.placed_view(r, [], resp_type, now) for r in rows]
        return status

    def _lists(self, db: sqlite3.Connection, account: str, list_id: int | None = None) -> list[dict[str, Any]]:
        sql, args = "SELECT * FROM paper_lists WHERE account = ?", [account]
        if list_id is not None:
            sql += " AND list_id = ?"
            args.append(list_id)
        return [list_status(row, self.ledger.orders(db, account, list_id=row["list_id"]))
                for row in db.execute(sql + " ORDER BY list_id", args)]

    def find(self, db: sqlite3.Connection, tool: str, account: str, p: Mapping[str, str]) -> dict[str, Any]:
        if "orderListId" in p:
            found = self._lists(db, account, int(p["orderListId"]))
        elif "listClientOrderId" in p or "origClientOrderId" in p:
            wanted = p.get("listClientOrderId") or p.get("origClientOrderId")
            found = [lst for lst in self._lists(db, account) if lst["listClientOrderId"] == wanted][-1:]
        else:
            raise views.bad_param(tool, "Param 'orderListId' or 'listClientOrderId' must be sent, but both were empty/null!")
        if not found or ("symbol" in p and found[0]["symbol"] != p["symbol"]):
            raise views.rejected((-2011, "Order list does not exist."), tool)
        return found[0]

    def all_lists(self, db: sqlite3.Connection, account: str, open_only: bool) -> list[dict[str, Any]]:
        return [lst for lst in self._lists(db, account) if not open_only or lst["listOrderStatus"] == "EXECUTING"]
