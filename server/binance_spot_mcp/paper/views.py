"""Binance's response shapes for paper orders, trades and the account (rest-api.md), and its errors."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from binance_spot_mcp.errors import ExchangeError, PolicyError, hint_for
from binance_spot_mcp.paper.ledger import OrderRow
from binance_spot_mcp.paper.matching import Fill

ENVIRONMENT = "paper"
INSUFFICIENT = (-2010, "Account has insufficient balance for requested action.")
UNKNOWN_ORDER = (-2011, "Unknown order sent.")
NO_SUCH_ORDER = (-2013, "Order does not exist.")
WOULD_TAKE = (-2010, "Order would immediately match and take.")
WOULD_TRIGGER = (-2010, "Order would trigger immediately.")  # errors.md, -2010 messages
# errors.md's -2010 message for an order type the symbol does not enable
TYPE_NOT_ENABLED = {
    "MARKET": "Market orders are not supported for this symbol.",
    "STOP_LOSS": "Stop loss orders are not supported for this symbol.",
    "STOP_LOSS_LIMIT": "Stop loss limit orders are not supported for this symbol.",
    "TAKE_PROFIT": "Take profit orders are not supported for this symbol.",
    "TAKE_PROFIT_LIMIT": "Take profit limit orders are not supported for this symbol.",
}
DUPLICATE = (-2010, "Duplicate order sent.")
NO_LIQUIDITY = (-2010, "Order book liquidity is less than symbol minimum quantity.")
SAME_QTY = (-2038, "The requested action would change no state; rejecting")
MORE_QTY = (-2038, "Order amend (quantity increase) is not supported.")
BAD_PARAM = -1102
NOT_ON_PAPER = "not available on paper accounts"


def d8(value: Decimal) -> str:
    """Binance's fixed 8-decimal format."""
    return f"{value:.8f}"


def rejected(code_msg: tuple[int, str], tool: str, status: int = 400) -> ExchangeError:
    code, msg = code_msg
    return ExchangeError(status=status, code=code, msg=msg, hint=hint_for(status, code, tool))


def bad_param(tool: str, msg: str) -> ExchangeError:
    return ExchangeError(status=400, code=BAD_PARAM, msg=msg, hint=hint_for(400, BAD_PARAM, tool))


def not_on_paper(what: str) -> PolicyError:
    return PolicyError(
        f"{what} is {NOT_ON_PAPER}: the paper desk cannot simulate it honestly",
        hint="Use a plain order type (MARKET, LIMIT, LIMIT_MAKER, STOP_LOSS*, TAKE_PROFIT*) or an OCO, "
        "or a testnet/demo account for this feature.",
    )


def order_view(o: OrderRow) -> dict[str, Any]:
    """GET /api/v3/order's shape."""
    return {
        "symbol": o.symbol, "orderId": o.order_id, "orderListId": o.order_list_id,
        "clientOrderId": o.client_order_id, "price": d8(o.price), "origQty": d8(o.orig_qty),
        "executedQty": d8(o.executed_qty), "cummulativeQuoteQty": d8(o.cum_quote), "status": o.status,
        "timeInForce": o.time_in_force or "GTC", "type": o.type, "side": o.side, "stopPrice": d8(o.stop_price),
        "icebergQty": d8(Decimal(0)), "time": o.time_ms, "updateTime": o.update_ms, "isWorking": o.is_working,
        "workingTime": o.working_ms if o.is_working else -1, "origQuoteOrderQty": d8(o.orig_quote_qty),
        "selfTradePreventionMode": o.stp_mode, "environment": ENVIRONMENT,
    }


def amended_view(o: OrderRow, orig_client_id: str) -> dict[str, Any]:
    """PUT /api/v3/order/amend/keepPriority's ``amendedOrder`` (its own names: qty, cumulativeQuoteQty)."""
    out = {
        "symbol": o.symbol, "orderId": o.order_id, "orderListId": o.order_list_id, "origClientOrderId": orig_client_id,
        "clientOrderId": o.client_order_id, "price": d8(o.price), "qty": d8(o.orig_qty),
        "executedQty": d8(o.executed_qty), "preventedQty": d8(Decimal(0)), "quoteOrderQty": d8(o.orig_quote_qty),
        "cumulativeQuoteQty": d8(o.cum_quote), "status": o.status, "timeInForce": o.time_in_force or "GTC",
        "type": o.type, "side": o.side, "workingTime": o.working_ms if o.is_working else -1,
        "selfTradePreventionMode": o.stp_mode,
    }
    return {**out, "environment": ENVIRONMENT}


def placed_view(o: OrderRow, fills: Sequence[tuple[Fill, Decimal, str, int]], resp_type: str, now_ms: int) -> dict[str, Any]:
    """POST /api/v3/order's ACK / RESULT / FULL shapes."""
    out: dict[str, Any] = {"symbol": o.symbol, "orderId": o.order_id, "orderListId": o.order_list_id,
                           "clientOrderId": o.client_order_id, "transactTime": now_ms}
    if resp_type != "ACK":
        out.update({
            "price": d8(o.price), "origQty": d8(o.orig_qty), "executedQty": d8(o.executed_qty),
            "origQuoteOrderQty": d8(o.orig_quote_qty), "cummulativeQuoteQty": d8(o.cum_quote),
            "status": o.status, "timeInForce": o.time_in_force or "GTC", "type": o.type, "side": o.side,
            "workingTime": o.working_ms if o.is_working else -1, "selfTradePreventionMode": o.stp_mode,
        })
        if o.stop_price:
            out["stopPrice"] = d8(o.stop_price)
    if resp_type == "FULL":
        out["fills"] = [
            {"price": d8(f.price), "qty": d8(f.qty), "commission": d8(fee), "commissionAsset": asset,
             "tradeId": trade_id, "paperReceipt": dict(f.receipt)}
            for f, fee, asset, trade_id in fills
        ]
    out["environment"] = ENVIRONMENT
    return out


def cancel_view(o: OrderRow, cancel_client_id: str, now_ms: int) -> dict[str, Any]:
    out = {
        "symbol": o.symbol, "origClientOrderId": o.client_order_id, "orderId": o.order_id,
        "orderListId": o.order_list_id, "clientOrderId": cancel_client_id, "transactTime": now_ms,
        "price": d8(o.price), "origQty": d8(o.orig_qty), "executedQty": d8(o.executed_qty),
        "origQuoteOrderQty": d8(o.orig_quote_qty), "cummulativeQuoteQty": d8(o.cum_quote), "status": o.status,
        "timeInForce": o.time_in_force or "GTC", "type": o.type, "side": o.side,
        "selfTradePreventionMode": o.stp_mode,
    }
    if o.type.startswith(("STOP_LOSS", "TAKE_PROFIT")):  # a conditional field of stop orders (rest-api.md)
        out["stopPrice"] = d8(o.stop_price)
    return {**out, "environment": ENVIRONMENT}


def trade_view(row: sqlite3.Row) -> dict[str, Any]:
    """GET /api/v3/myTrades's shape, plus the fill's receipt (what it was matched against)."""
    return {
        "symbol": row["symbol"], "id": row["trade_id"], "orderId": row["order_id"], "orderListId": row["order_list_id"],
        "price": d8(Decimal(row["price"])), "qty": d8(Decimal(row["qty"])), "quoteQty": d8(Decimal(row["quote_qty"])),
        "commission": d8(Decimal(row["commission"])), "commissionAsset": row["commission_asset"],
        "time": row["time_ms"], "isBuyer": bool(row["is_buyer"]), "isMaker": bool(row["is_maker"]),
        "isBestMatch": True, "paperReceipt": json.loads(row["receipt"]),
    }


def commission_block(maker: Decimal, taker: Decimal) -> dict[str, str]:
    return {"maker": d8(maker), "taker": d8(taker), "buyer": d8(Decimal(0)), "seller": d8(Decimal(0))}


def account_view(balances: dict[str, tuple[Decimal, Decimal]], maker: Decimal, taker: Decimal, now_ms: int,
                 omit_zero: bool) -> dict[str, Any]:
    rows = [{"asset": asset, "free": d8(free), "locked": d8(locked)} for asset, (free, locked) in sorted(balances.items())
            if not (omit_zero and not free and not locked)]
    return {
        "makerCommission": int(maker * 10000), "takerCommission": int(taker * 10000), "buyerCommission": 0,
        "sellerCommission": 0, "commissionRates": commission_block(maker, taker), "canTrade": True,
        "canWithdraw": False, "canDeposit": False, "brokered": False, "requireSelfTradePrevention": False,
        "preventSor": False, "updateTime": now_ms, "accountType": "SPOT", "balances": rows,
        "permissions": ["SPOT"], "uid": 0, "environment": ENVIRONMENT,
    }


def commission_view(symbol: str, maker: Decimal, taker: Decimal) -> dict[str, Any]:
    zero = commission_block(Decimal(0), Decimal(0))
    return {"symbol": symbol, "standardCommission": commission_block(maker, taker), "specialCommission": zero,
            "taxCommission": zero, "discount": {"enabledForAccount": False, "enabledForSymbol": False,
                                                "discountAsset": "BNB", "discount": d8(Decimal(0))},
            "environment": ENVIRONMENT}
