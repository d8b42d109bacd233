"""Trading (TRADE) and account (USER_DATA) handlers, plus the route -> handler registry.

The order-list routes (OCO, OTO, OTOCO, OPO, OPOCO and their cancel) are in ``list_handlers``."""

from __future__ import annotations

from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Any, Callable

from . import market
from .engine import ZERO, Order, new_client_id, release
from .errors import ApiError
from .list_handlers import cancel_order_list, order_list_oco, order_list_oto, order_list_otoco, order_oco_legacy
from .records import Ctx, Reply
from .symbols import fmt

if TYPE_CHECKING:  # pragma: no cover
    from .exchange import Exchange

Handler = Callable[["Exchange", "Ctx"], Any]


def _resp_type(ctx: "Ctx", otype: str) -> str:
    return ctx.params.get("newOrderRespType") or ("FULL" if otype in ("MARKET", "LIMIT") else "ACK")


# ------------------------------------------------------------------ orders
def new_order(ex: "Exchange", ctx: "Ctx") -> Any:
    """POST /api/v3/order."""
    spec = ex.spec(ctx.params["symbol"])
    order = ex.place(ctx.account, spec, ex.leg(ctx.params), ctx.now)  # type: ignore[arg-type]
    return order.render(_resp_type(ctx, order.type), ctx.now)


def _commission_preview(ex: "Exchange", ctx: "Ctx", sor: bool) -> dict[str, Any]:
    account = ctx.account
    assert account is not None
    rates = {"maker": fmt(account.maker_rate), "taker": fmt(account.taker_rate)}
    out: dict[str, Any] = {"standardCommissionForOrder": rates}
    if not sor:
        out["specialCommissionForOrder"] = {"maker": fmt(ZERO), "taker": fmt(ZERO)}
    out["taxCommissionForOrder"] = {"maker": fmt(ZERO), "taker": fmt(ZERO)}
    out["discount"] = {"enabledForAccount": True, "enabledForSymbol": True, "discountAsset": "BNB",
                       "discount": "0.25000000"}
    return out


def test_order(ex: "Exchange", ctx: "Ctx", sor: bool = False) -> Any:
    """POST /api/v3/order/test and /api/v3/sor/order/test: validate only."""
    spec = ex.spec(ctx.params["symbol"])
    assert ctx.account is not None
    o = ex.leg(ctx.params)
    ex._check_order(ctx.account, spec, o)
    ex._check_duplicate(ctx.account, spec.symbol, o.get("newClientOrderId"))
    if ctx.params.get("computeCommissionRates"):
        return _commission_preview(ex, ctx, sor)
    return {}


def sor_order(ex: "Exchange", ctx: "Ctx") -> Any:
    """POST /api/v3/sor/order: executes on the single local book."""
    spec = ex.spec(ctx.params["symbol"])
    order = ex.place(ctx.account, spec, ex.leg(ctx.params), ctx.now)  # type: ignore[arg-type]
    order.extra.update({"workingFloor": "SOR", "usedSor": True})
    out = order.render(ctx.params.get("newOrderRespType") or "FULL", ctx.now)
    if "fills" in out:
        for fill in out["fills"]:
            fill["matchType"] = "ONE_PARTY_TRADE_REPORT"
            fill["allocId"] = 0
    return out


def _cancel_one(ex: "Exchange", ctx: "Ctx", order: Order, cancel_id: str | None, restriction: str | None) -> Any:
    if not order.is_open:
        raise ApiError(-2011, "Unknown order sent.")
    if restriction == "ONLY_NEW" and order.status != "NEW" or (
            restriction == "ONLY_PARTIALLY_FILLED" and order.status != "PARTIALLY_FILLED"):
        raise ApiError(-2011, "Order was not canceled due to cancel restrictions.")
    olist = ex.order_lists.get(order.order_list_id)
    if olist is not None:
        for member in olist.orders:
            ex.cancel(member, ctx.now)
    else:
        ex.cancel(order, ctx.now)
    return order.cancel_report(cancel_id or new_client_id(), ctx.now)


def cancel_order(ex: "Exchange", ctx: "Ctx") -> Any:
    """DELETE /api/v3/order."""
    p = ctx.params
    spec = ex.spec(p["symbol"])
    order = ex._find_order(ctx.account, spec.symbol, p.get("orderId"), p.get("origClientOrderId"), code=-2011)  # type: ignore[arg-type]
    return _cancel_one(ex, ctx, order, p.get("newClientOrderId"), p.get("cancelRestrictions"))


def cancel_open_orders(ex: "Exchange", ctx: "Ctx") -> Any:
    """DELETE /api/v3/openOrders."""
    spec = ex.spec(ctx.params["symbol"])
    open_orders = [o for o in ex.orders.values()
                   if o.account is ctx.account and o.symbol == spec.symbol and o.is_open]
    if not open_orders:
        raise ApiError(-2011, "Unknown order sent.")
    out: list[Any] = []
    done_lists: set[int] = set()
    for order in open_orders:
        if order.order_list_id != -1:
            if order.order_list_id in done_lists:
                continue
            done_lists.add(order.order_list_id)
            olist = ex.order_lists[order.order_list_id]
            reports = []
            for member in olist.orders:
                ex.cancel(member, ctx.now)
                reports.append(member.cancel_report(new_client_id(), ctx.now))
            entry = olist.status()
            entry["orderReports"] = reports
            out.append(entry)
        else:
            ex.cancel(order, ctx.now)
            out.append(order.cancel_report(new_client_id(), ctx.now))
    return out


def cancel_replace(ex: "Exchange", ctx: "Ctx") -> Any:
    """POST /api/v3/order/cancelReplace."""
    p = ctx.params
    spec = ex.spec(p["symbol"])
    account = ctx.account
    assert account is not None
    o = ex.leg(p)
    ex._check_order(account, spec, o)  # filters are evaluated before processing
    cancel_resp: Any
    cancel_ok = True
    try:
        target = ex._find_order(account, spec.symbol, p.get("cancelOrderId"), p.get("cancelOrigClientOrderId"),
                                code=-2011)
        cancel_resp = _cancel_one(ex, ctx, target, p.get("cancelNewClientOrderId"), p.get("cancelRestrictions"))
    except ApiError as err:
        cancel_ok, cancel_resp = False, {"code": err.code, "msg": err.msg}
    if not cancel_ok and p["cancelReplaceMode"] == "STOP_ON_FAILURE":
        data = {"cancelResult": "FAILURE", "newOrderResult": "NOT_ATTEMPTED", "cancelResponse": cancel_resp,
                "newOrderResponse": None}
        return Reply(400, {"code": -2022, "msg": "Order cancel-replace failed.", "data": data})
    try:
        order = ex.place(account, spec, o, ctx.now)
        new_ok, new_resp = True, order.render(_resp_type(ctx, order.type), ctx.now)
    except ApiError as err:
        new_ok, new_resp = False, {"code": err.code, "msg": err.msg}
    data = {"cancelResult": "SUCCESS" if cancel_ok else "FAILURE",
            "newOrderResult": "SUCCESS" if new_ok else "FAILURE",
            "cancelResponse": cancel_resp, "newOrderResponse": new_resp}
    if cancel_ok and new_ok:
        return data
    if not cancel_ok and not new_ok:
        return Reply(400, {"code": -2022, "msg": "Order cancel-replace failed.", "data": data})
    return Reply(409, {"code": -2021, "msg": "Order cancel-replace partially failed.", "data": data})


def amend_keep_priority(ex: "Exchange", ctx: "Ctx") -> Any:
    """PUT /api/v3/order/amend/keepPriority: reduce quantity of an open order."""
    p = ctx.params
    spec = ex.spec(p["symbol"])
    order = ex._find_order(ctx.account, spec.symbol, p.get("orderId"), p.get("origClientOrderId"), code=-2011)  # type: ignore[arg-type]
    if not order.is_open:
        raise ApiError(-2038, "Unknown order sent.")
    new_qty: Decimal = p["newQty"]
    if new_qty == order.orig_qty:
        raise ApiError(-2038, "The requested action would change no state; rejecting")
    if new_qty > order.orig_qty:
        raise ApiError(-2038, "Order amend (quantity increase) is not supported.")
    if new_qty <= 0 or new_qty % spec.step != 0 or new_qty < spec.min_qty:
        raise ApiError(-1013, "Filter failure: LOT_SIZE")
    orig_cid = order.client_order_id
    reduce_by = order.orig_qty - max(new_qty, order.executed_qty)
    if order.locked_asset:
        release(order, reduce_by * order.price if order.side == "BUY" else reduce_by)
    order.orig_qty = max(new_qty, order.executed_qty)
    order.client_order_id = p.get("newClientOrderId") or new_client_id()
    order.update_time = ctx.now
    if order.remaining <= 0:
        ex.cancel(order, ctx.now, status="FILLED")
    execution_id = ex.new_execution_id()
    ex.amendments.append({"symbol": spec.symbol, "orderId": order.order_id, "executionId": execution_id,
                          "origClientOrderId": orig_cid, "newClientOrderId": order.client_order_id,
                          "origQty": fmt(order.orig_qty + reduce_by), "newQty": fmt(order.orig_qty),
                          "time": ctx.now})
    amended = {"symbol": order.symbol, "orderId": order.order_id, "orderListId": order.order_list_id,
               "origClientOrderId": orig_cid, "clientOrderId": order.client_order_id, "price": fmt(order.price),
               "qty": fmt(order.orig_qty), "executedQty": fmt(order.executed_qty), "preventedQty": fmt(ZERO),
               "quoteOrderQty": fmt(order.orig_quote_qty), "cumulativeQuoteQty": fmt(order.cum_quote),
               "status": order.status, "timeInForce": order.time_in_force, "type": order.type,
               "side": order.side, "workingTime": order.working_time,
               "selfTradePreventionMode": order.stp_mode}
    out: dict[str, Any] = {"transactTime": ctx.now, "executionId": execution_id, "amendedOrder": amended}
    olist = ex.order_lists.get(order.order_list_id)
    if olist is not None:
        status = olist.status()
        status.pop("listStatusType")
        status.pop("transactionTime")
        out["listStatus"] = status
    return out


# ------------------------------------------------------------------ account queries
def account_info(ex: "Exchange", ctx: "Ctx") -> Any:
    """GET /api/v3/account."""
    account = ctx.account
    assert account is not None
    balances = [{"asset": a, "free": fmt(f), "locked": fmt(l)} for a, (f, l) in sorted(account.balances.items())]
    if ctx.params.get("omitZeroBalances"):
        balances = [b for b in balances if Decimal(b["free"]) != 0 or Decimal(b["locked"]) != 0]
    bps = int(account.maker_rate * 10000)
    return {
        "makerCommission": bps, "takerCommission": int(account.taker_rate * 10000), "buyerCommission": 0,
        "sellerCommission": 0, "commissionRates": ex.commission_rates(account), "canTrade": True,
        "canWithdraw": True, "canDeposit": True, "brokered": False, "requireSelfTradePrevention": False,
        "preventSor": False, "updateTime": account.update_time, "accountType": "SPOT", "balances": balances,
        "permissions": ["SPOT"], "uid": 100000000 + account.account_id,
    }


def query_order(ex: "Exchange", ctx: "Ctx") -> Any:
    """GET /api/v3/order."""
    p = ctx.params
    spec = ex.spec(p["symbol"])
    return ex._find_order(ctx.account, spec.symbol, p.get("orderId"), p.get("origClientOrderId")).query()  # type: ignore[arg-type]


def open_orders(ex: "Exchange", ctx: "Ctx") -> Any:
    """GET /api/v3/openOrders."""
    symbol = ctx.params.get("symbol")
    if symbol is not None:
        ex.spec(symbol)
    return [o.query() for o in ex.orders.values()
            if o.account is ctx.account and o.is_open and (symbol is None or o.symbol == symbol)]


def _check_range(p: dict[str, Any]) -> None:
    if "startTime" in p and "endTime" in p and p["endTime"] - p["startTime"] > 86_400_000:
        raise ApiError(-1127, "More than 24 hours between startTime and endTime.")


def all_orders(ex: "Exchange", ctx: "Ctx") -> Any:
    """GET /api/v3/allOrders."""
    p = ctx.params
    spec = ex.spec(p["symbol"])
    _check_range(p)
    limit = min(p.get("limit", 500), 1000)
    items = [o for o in ex.orders.values() if o.account is ctx.account and o.symbol == spec.symbol
             and o.order_id >= p.get("orderId", 0) and p.get("startTime", 0) <= o.time <= p.get("endTime", 1 << 62)]
    items.sort(key=lambda o: o.order_id)
    items = items[:limit] if ("orderId" in p or "startTime" in p) else items[-limit:]
    return [o.query() for o in items]


def query_order_list(ex: "Exchange", ctx: "Ctx") -> Any:
    """GET /api/v3/orderList."""
    p = ctx.params
    if "orderListId" in p:
        olist = ex.order_lists.get(p["orderListId"])
    else:
        olist = next((ol for ol in reversed(list(ex.order_lists.values()))
                      if ol.list_client_order_id == p["origClientOrderId"]), None)
    if olist is None or olist.account is not ctx.account:
        raise ApiError(-2011, "Order list does not exist.")
    return olist.status()


def all_order_lists(ex: "Exchange", ctx: "Ctx") -> Any:
    """GET /api/v3/allOrderList."""
    p = ctx.params
    if "fromId" in p and ("startTime" in p or "endTime" in p):
        raise ApiError(-1128, "Combination of optional parameters invalid.")
    _check_range(p)
    limit = min(p.get("limit", 500), 1000)
    items = sorted((ol for ol in ex.order_lists.values() if ol.account is ctx.account
                    and ol.order_list_id >= p.get("fromId", 0)
                    and p.get("startTime", 0) <= ol.transaction_time <= p.get("endTime", 1 << 62)),
                   key=lambda ol: ol.order_list_id)
    # fromId / startTime: the oldest from there; otherwise the most recent (general API rules).
    items = items[:limit] if ("fromId" in p or "startTime" in p) else items[-limit:]
    return [ol.status() for ol in items]


def open_order_lists(ex: "Exchange", ctx: "Ctx") -> Any:
    """GET /api/v3/openOrderList."""
    return [ol.status() for ol in ex.order_lists.values() if ol.account is ctx.account and ol.is_open]


# rest-api.md: "the supported combinations of all parameters" of GET /api/v3/myTrades (besides symbol).
MY_TRADES_COMBINATIONS = frozenset({
    frozenset(), frozenset({"orderId"}), frozenset({"startTime"}), frozenset({"endTime"}), frozenset({"fromId"}),
    frozenset({"startTime", "endTime"}), frozenset({"orderId", "fromId"}),
})


def my_trades(ex: "Exchange", ctx: "Ctx") -> Any:
    """GET /api/v3/myTrades."""
    p = ctx.params
    if frozenset(p) & {"orderId", "startTime", "endTime", "fromId"} not in MY_TRADES_COMBINATIONS:
        raise ApiError(-1128, "Combination of optional parameters invalid.")
    spec = ex.spec(p["symbol"])
    _check_range(p)
    limit = min(p.get("limit", 500), 1000)
    out = []
    for t in ex.trades[spec.symbol]:
        for order, is_buyer in ((t.buy_order, True), (t.sell_order, False)):
            if order.account is not ctx.account:
                continue
            if "orderId" in p and order.order_id != p["orderId"]:
                continue
            if t.trade_id < p.get("fromId", 0) or not p.get("startTime", 0) <= t.time <= p.get("endTime", 1 << 62):
                continue
            is_maker = t.buyer_is_maker == is_buyer
            out.append({"symbol": t.symbol, "id": t.trade_id, "orderId": order.order_id,
                        "orderListId": order.order_list_id, "price": fmt(t.price), "qty": fmt(t.qty),
                        "quoteQty": fmt(t.price * t.qty),
                        "commission": fmt(t.buy_commission if is_buyer else t.sell_commission),
                        "commissionAsset": (t.buy_commission_asset if is_buyer else t.sell_commission_asset)
                        or (spec.base if is_buyer else spec.quote), "time": t.time,
                        "isBuyer": is_buyer, "isMaker": is_maker, "isBestMatch": True})
    return out[:limit] if "fromId" in p or "startTime" in p else out[-limit:]


def rate_limit_order(ex: "Exchange", ctx: "Ctx") -> Any:
    """GET /api/v3/rateLimit/order."""
    assert ctx.account is not None
    ten_s, one_d = ex.order_counts(ctx.account, ctx.now)
    return [{"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100, "count": ten_s},
            {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000, "count": one_d}]


def my_prevented_matches(ex: "Exchange", ctx: "Ctx") -> Any:
    """GET /api/v3/myPreventedMatches (the fake never prevents matches)."""
    p = ctx.params
    ex.spec(p["symbol"])
    if "preventedMatchId" not in p and "orderId" not in p:
        raise ApiError(-1128, "Combination of optional parameters invalid.")
    return []


def my_allocations(ex: "Exchange", ctx: "Ctx") -> Any:
    """GET /api/v3/myAllocations: one allocation per SOR fill."""
    p = ctx.params
    spec = ex.spec(p["symbol"])
    _check_range(p)
    out = []
    alloc_id = 0
    for t in ex.trades[spec.symbol]:
        for order, is_buyer in ((t.buy_order, True), (t.sell_order, False)):
            if order.account is ctx.account and order.extra.get("usedSor"):
                if "orderId" in p and order.order_id != p["orderId"]:
                    continue
                if alloc_id >= p.get("fromAllocationId", 0):
                    out.append({"symbol": t.symbol, "allocationId": alloc_id, "allocationType": "SOR",
                                "orderId": order.order_id, "orderListId": -1, "price": fmt(t.price),
                                "qty": fmt(t.qty), "quoteQty": fmt(t.price * t.qty),
                                "commission": fmt(t.buy_commission if is_buyer else t.sell_commission),
                                "commissionAsset": spec.base if is_buyer else spec.quote, "time": t.time,
                                "isBuyer": is_buyer, "isMaker": False, "isAllocator": False})
                alloc_id += 1
    return out[: min(p.get("limit", 500), 1000)]


def account_commission(ex: "Exchange", ctx: "Ctx") -> Any:
    """GET /api/v3/account/commission."""
    spec = ex.spec(ctx.params["symbol"])
    assert ctx.account is not None
    zero = {"maker": fmt(ZERO), "taker": fmt(ZERO), "buyer": fmt(ZERO), "seller": fmt(ZERO)}
    return {"symbol": spec.symbol, "standardCommission": ex.commission_rates(ctx.account),
            "specialCommission": dict(zero), "taxCommission": dict(zero),
            "discount": {"enabledForAccount": True, "enabledForSymbol": True, "discountAsset": "BNB",
                         "discount": "0.75000000"}}


def order_amendments(ex: "Exchange", ctx: "Ctx") -> Any:
    """GET /api/v3/order/amendments."""
    p = ctx.params
    spec = ex.spec(p["symbol"])
    ex._find_order(ctx.account, spec.symbol, p["orderId"], None)  # type: ignore[arg-type]
    items = [a for a in ex.amendments if a["symbol"] == spec.symbol and a["orderId"] == p["orderId"]
             and a["executionId"] >= p.get("fromExecutionId", 0)]
    return items[: min(p.get("limit", 500), 1000)]


def my_filters(ex: "Exchange", ctx: "Ctx") -> Any:
    """GET /api/v3/myFilters."""
    spec = ex.spec(ctx.params["symbol"])
    symbol_filters = [f for f in spec.filters() if f["filterType"].startswith("MAX_NUM")]
    return {"exchangeFilters": ex.exchange_filters(), "symbolFilters": symbol_filters, "assetFilters": []}


# ------------------------------------------------------------------ registry
def build_handlers(ex: "Exchange") -> dict[tuple[str, str], Callable[["Ctx"], Any]]:
    """Bind every documented route to its handler."""
    table: dict[tuple[str, str], Handler] = {
        ("GET", "ping"): market.ping,
        ("GET", "time"): market.server_time,
        ("GET", "exchangeInfo"): market.exchange_info,
        ("GET", "executionRules"): market.execution_rules,
        ("GET", "depth"): market.depth,
        ("GET", "trades"): market.trades,
        ("GET", "historicalTrades"): market.historical_trades,
        ("GET", "historicalBlockTrades"): market.historical_block_trades,
        ("GET", "aggTrades"): market.agg_trades,
        ("GET", "klines"): market.klines,
        ("GET", "uiKlines"): market.klines,
        ("GET", "avgPrice"): market.avg_price,
        ("GET", "ticker/24hr"): market.ticker_24hr,
        ("GET", "ticker/tradingDay"): market.ticker_trading_day,
        ("GET", "ticker/price"): market.ticker_price,
        ("GET", "ticker/bookTicker"): market.book_ticker,
        ("GET", "ticker"): market.rolling_ticker,
        ("GET", "referencePrice"): market.reference_price,
        ("GET", "referencePrice/calculation"): market.reference_price_calculation,
        ("POST", "order"): new_order,
        ("POST", "order/test"): test_order,
        ("DELETE", "order"): cancel_order,
        ("DELETE", "openOrders"): cancel_open_orders,
        ("POST", "order/cancelReplace"): cancel_replace,
        ("PUT", "order/amend/keepPriority"): amend_keep_priority,
        ("POST", "order/oco"): order_oco_legacy,
        ("POST", "orderList/oco"): order_list_oco,
        ("POST", "orderList/oto"): order_list_oto,
        ("POST", "orderList/otoco"): order_list_otoco,
        ("POST", "orderList/opo"): partial(order_list_oto, kind="OPO"),
        ("POST", "orderList/opoco"): partial(order_list_otoco, kind="OPOCO"),
        ("DELETE", "orderList"): cancel_order_list,
        ("POST", "sor/order"): sor_order,
        ("POST", "sor/order/test"): partial(test_order, sor=True),
        ("GET", "account"): account_info,
        ("GET", "order"): query_order,
        ("GET", "openOrders"): open_orders,
        ("GET", "allOrders"): all_orders,
        ("GET", "orderList"): query_order_list,
        ("GET", "allOrderList"): all_order_lists,
        ("GET", "openOrderList"): open_order_lists,
        ("GET", "myTrades"): my_trades,
        ("GET", "rateLimit/order"): rate_limit_order,
        ("GET", "myPreventedMatches"): my_prevented_matches,
        ("GET", "myAllocations"): my_allocations,
        ("GET", "account/commission"): account_commission,
        ("GET", "order/amendments"): order_amendments,
        ("GET", "myFilters"): my_filters,
    }
    return {(method, "/api/v3/" + path): partial(fn, ex) for (method, path), fn in table.items()}
