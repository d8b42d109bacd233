"""Order-list handlers: place an OCO (both the legacy route and ``orderList/oco``), OTO, OTOCO,
OPO or OPOCO list, and cancel a list. The list record itself is in ``orderlists``."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .engine import new_client_id
from .errors import ApiError, mandatory, rejected
from .orderlists import OrderList
from .records import Ctx

if TYPE_CHECKING:  # pragma: no cover
    from .exchange import Exchange


def _new_list(ex: "Exchange", ctx: "Ctx", kind: str, legs: list[tuple[dict[str, Any], bool, bool]]) -> Any:
    """Create an order list; legs are (order dict, pending, lock_stop)."""
    account = ctx.account
    assert account is not None
    spec = ex.spec(ctx.params["symbol"])
    list_cid = ctx.params.get("listClientOrderId") or new_client_id()
    if any(ol.list_client_order_id == list_cid and ol.is_open and ol.account is account
           for ol in ex.order_lists.values()):
        raise rejected("Duplicate order sent.")
    for leg, _, _ in legs:  # validate everything before placing anything
        ex._check_order(account, spec, leg)
    list_id = ex.new_list_id()
    olist = OrderList(list_id, kind, list_cid, spec.symbol, account, ctx.now)
    ex.order_lists[list_id] = olist
    try:
        for leg, pending, lock_stop in legs:
            olist.orders.append(ex.place(account, spec, leg, ctx.now, list_id=list_id, pending=pending,
                                         lock_stop=lock_stop))
    except ApiError:
        for member in olist.orders:
            ex.cancel(member, ctx.now)
            ex.orders.pop((member.symbol, member.order_id), None)
        del ex.order_lists[list_id]
        raise
    # Docs do not state the default for lists; their examples show RESULT-shaped reports.
    response = olist.placement(ctx.params.get("newOrderRespType") or "RESULT", ctx.now)
    # Pending legs show PENDING_NEW in the placement reply even if the working order filled at once.
    ex._after_execution(olist.orders[0], ctx.now)
    return response


def _oco_prices_ok(ex: "Exchange", symbol: str, side: str, limit_price: Decimal, stop_price: Decimal) -> None:
    last = ex.last_price[symbol]
    ok = (limit_price > last > stop_price) if side == "SELL" else (limit_price < last < stop_price)
    if not ok:
        raise rejected("The relationship of the prices for the orders is not correct.")


def order_oco_legacy(ex: "Exchange", ctx: "Ctx") -> Any:
    """POST /api/v3/order/oco (deprecated): LIMIT_MAKER leg + STOP_LOSS(_LIMIT) leg."""
    p = ctx.params
    side = p["side"]
    _oco_prices_ok(ex, p["symbol"], side, p["price"], p["stopPrice"])
    stop_type = "STOP_LOSS_LIMIT" if "stopLimitPrice" in p else "STOP_LOSS"
    if stop_type == "STOP_LOSS_LIMIT" and "stopLimitTimeInForce" not in p:
        raise mandatory("stopLimitTimeInForce")
    stop = {"side": side, "type": stop_type, "quantity": p["quantity"], "stopPrice": p["stopPrice"],
            "price": p.get("stopLimitPrice"), "timeInForce": p.get("stopLimitTimeInForce"),
            "newClientOrderId": p.get("stopClientOrderId"), "icebergQty": p.get("stopIcebergQty"),
            "strategyId": p.get("stopStrategyId"), "strategyType": p.get("stopStrategyType"),
            "trailingDelta": p.get("trailingDelta")}
    limit = {"side": side, "type": "LIMIT_MAKER", "quantity": p["quantity"], "price": p["price"],
             "newClientOrderId": p.get("limitClientOrderId"), "icebergQty": p.get("limitIcebergQty"),
             "strategyId": p.get("limitStrategyId"), "strategyType": p.get("limitStrategyType")}
    legs = [({k: v for k, v in d.items() if v is not None}, False, False) for d in (stop, limit)]
    return _new_list(ex, ctx, "OCO", legs)


def _oco_pair(ex: "Exchange", ctx: "Ctx", side: str, qty: Decimal, above: str, below: str,
              pending: bool) -> list[tuple[dict[str, Any], bool, bool]]:
    p = ctx.params
    legs = []
    for prefix in (above, below):
        type_key = prefix + "Type"
        if type_key not in p:
            raise mandatory(type_key)
        leg = ex.leg(p, prefix, side=side, quantity=qty)
        leg["type"] = p[type_key]
        if leg["type"] in ("STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT") and "timeInForce" not in leg:
            raise mandatory(prefix + "TimeInForce")
        if "trailingDelta" in leg:
            leg["trailingDelta"] = int(leg["trailingDelta"])
        legs.append((leg, pending, False))
    if legs[0][0]["type"] != "LIMIT_MAKER" and legs[1][0]["type"] != "LIMIT_MAKER":
        kinds = {legs[0][0]["type"], legs[1][0]["type"]}
        if not kinds & {"STOP_LOSS", "STOP_LOSS_LIMIT"}:
            raise ApiError(-1168, "At least one OCO order must be contingent.")
    # The documented replies list the stop-loss leg of the pair first (a SELL OCO: below, then
    # above; the BUY pending pair of an OTOCO: above, then below).
    legs.sort(key=lambda item: item[0]["type"] not in ("STOP_LOSS", "STOP_LOSS_LIMIT"))
    return legs


def order_list_oco(ex: "Exchange", ctx: "Ctx") -> Any:
    """POST /api/v3/orderList/oco."""
    p = ctx.params
    legs = _oco_pair(ex, ctx, p["side"], p["quantity"], "above", "below", pending=False)
    return _new_list(ex, ctx, "OCO", legs)


def _working(ex: "Exchange", ctx: "Ctx") -> dict[str, Any]:
    p = ctx.params
    leg = ex.leg(p, "working", side=p["workingSide"], type=p["workingType"], price=p["workingPrice"],
                 quantity=p["workingQuantity"])
    if leg["type"] == "LIMIT" and "timeInForce" not in leg:
        raise mandatory("workingTimeInForce")
    return leg


def _pending_single(ex: "Exchange", ctx: "Ctx", qty: Decimal | None) -> dict[str, Any]:
    p = ctx.params
    leg = ex.leg(p, "pending", side=p["pendingSide"], type=p["pendingType"], quantity=qty)
    if "trailingDelta" in leg:
        leg["trailingDelta"] = int(leg["trailingDelta"])
    if leg["type"] in ("LIMIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"):
        if "price" not in leg:
            raise mandatory("pendingPrice")
        if "timeInForce" not in leg:
            raise mandatory("pendingTimeInForce")
    return leg


def _working_and_quantity(ex: "Exchange", ctx: "Ctx", opo: bool) -> tuple[dict[str, Any], Any]:
    """The working leg, and the pending legs' quantity (the working one's unless given). An OPO
    or OPOCO list pairs a working bid with pending asks."""
    working = _working(ex, ctx)
    if opo:
        if working["side"] != "BUY":
            raise ApiError(-1222, "Working order in an OPO list must be a bid.")
        if ctx.params["pendingSide"] != "SELL":
            raise ApiError(-1223, "Pending orders in an OPO list must be asks.")
    return working, ctx.params.get("pendingQuantity", working["quantity"])


def order_list_oto(ex: "Exchange", ctx: "Ctx", kind: str = "OTO") -> Any:
    """POST /api/v3/orderList/oto and /opo."""
    working, qty = _working_and_quantity(ex, ctx, opo=kind == "OPO")
    pending = _pending_single(ex, ctx, qty)
    return _new_list(ex, ctx, kind, [(working, False, True), (pending, True, False)])


def order_list_otoco(ex: "Exchange", ctx: "Ctx", kind: str = "OTOCO") -> Any:
    """POST /api/v3/orderList/otoco and /opoco."""
    working, qty = _working_and_quantity(ex, ctx, opo=kind == "OPOCO")
    pair = _oco_pair(ex, ctx, ctx.params["pendingSide"], qty, "pendingAbove", "pendingBelow", pending=True)
    return _new_list(ex, ctx, kind, [(working, False, True), *pair])


def cancel_order_list(ex: "Exchange", ctx: "Ctx") -> Any:
    """DELETE /api/v3/orderList."""
    p = ctx.params
    spec = ex.spec(p["symbol"])
    olist = None
    if "orderListId" in p:
        olist = ex.order_lists.get(p["orderListId"])
        if olist is not None and "listClientOrderId" in p and olist.list_client_order_id != p["listClientOrderId"]:
            olist = None
    else:
        matches = [ol for ol in ex.order_lists.values() if ol.list_client_order_id == p["listClientOrderId"]]
        olist = next((ol for ol in matches if ol.is_open), matches[-1] if matches else None)
    if olist is None or olist.account is not ctx.account or olist.symbol != spec.symbol or not olist.is_open:
        raise ApiError(-2011, "Unknown order list sent.")
    reports = []
    for member in olist.orders:
        ex.cancel(member, ctx.now)
        reports.append(member.cancel_report(p.get("newClientOrderId") or new_client_id(), ctx.now))
    olist.canceled = True
    out = olist.status()
    out["transactionTime"] = ctx.now
    out["orderReports"] = reports
    return out
