"""A reviewer's attacks on the paper desk's promises, each pinned on an in-process market
(``paper_stub``): Binance's reply shapes and codes where the desk answered otherwise (amend,
unknown symbols), and balances that stay whole while many calls on one account run at once
(concurrent orders, a cancel or an amend racing the catch-up that fills the same order)."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path
from typing import Any

import anyio
import pytest
from binance_spot_mcp.catalog.endpoints import load_catalog
from binance_spot_mcp.errors import ExchangeError
from binance_spot_mcp.paper.desk import PaperDesk
from binance_spot_mcp.paper.settings import PaperSettings
from binance_spot_mcp.store import Store

from tests.paper.paper_stub import SYMBOL, StubAccount, StubMarket

pytestmark = pytest.mark.anyio
CATALOG = load_catalog()
ACCOUNT = StubAccount(paper=PaperSettings(balances=(("USDT", D(1000)), ("BTC", D(1)))))
# rest-api.md, "Order Amend Keep Priority": the amendedOrder object
AMENDED_KEYS = {"symbol", "orderId", "orderListId", "origClientOrderId", "clientOrderId", "price", "qty", "executedQty",
                "preventedQty", "quoteOrderQty", "cumulativeQuoteQty", "status", "timeInForce", "type", "side",
                "workingTime", "selfTradePreventionMode"}


def _market() -> StubMarket:
    market = StubMarket()
    market.set_book([(D(99), D(50))], [(D(101), D(50))])
    market.trade(D(100), D(1), False)
    return market


def _desk(tmp_path: Path, market: StubMarket) -> PaperDesk:
    return PaperDesk(Store(tmp_path / "desk.sqlite3"), market.public, clock_ms=lambda: 1_000)


async def _call(desk: PaperDesk, tool: str, symbol: str = SYMBOL, **params: str) -> Any:
    endpoint = CATALOG.get(tool)
    assert endpoint is not None
    return await desk.handle(endpoint, [("symbol", symbol), *params.items()], ACCOUNT)


async def _balances(desk: PaperDesk) -> dict[str, tuple[D, D]]:
    account = await _call(desk, "get_account")
    return {b["asset"]: (D(b["free"]), D(b["locked"])) for b in account["balances"]}


# ------------------------------------------------------------------ Binance's shapes and codes
async def test_an_amend_answers_in_binances_amended_order_shape(tmp_path):
    desk = _desk(tmp_path, _market())
    placed = await _call(desk, "place_order", side="BUY", type="LIMIT", timeInForce="GTC", quantity="1", price="90",
                         newClientOrderId="before")
    reply = await _call(desk, "amend_order_keep_priority", orderId=str(placed["orderId"]), newQty="0.4")
    amended = reply["amendedOrder"]
    assert set(amended) - {"environment"} == AMENDED_KEYS
    assert (amended["origClientOrderId"], amended["qty"], amended["cumulativeQuoteQty"]) == (
        "before", "0.40000000", "0.00000000")
    # "If not sent, one will be randomly generated."
    assert amended["clientOrderId"] != "before"
    order = await _call(desk, "get_order", orderId=str(placed["orderId"]))
    assert (order["clientOrderId"], order["origQty"]) == (amended["clientOrderId"], "0.40000000")
    kept = await _call(desk, "amend_order_keep_priority", orderId=str(placed["orderId"]), newQty="0.3",
                       newClientOrderId=amended["clientOrderId"])
    assert kept["amendedOrder"]["clientOrderId"] == amended["clientOrderId"]  # reusing the current id is allowed
    assert (await _balances(desk))["USDT"] == (D(1000) - D(27), D(27))


@pytest.mark.parametrize(("new_qty", "msg"), [
    ("1", "The requested action would change no state; rejecting"),
    ("2", "Order amend (quantity increase) is not supported."),
], ids=["same", "more"])
async def test_an_amend_that_does_not_reduce_is_refused_with_binances_code(tmp_path, new_qty, msg):
    desk = _desk(tmp_path, _market())
    placed = await _call(desk, "place_order", side="BUY", type="LIMIT", timeInForce="GTC", quantity="1", price="90")
    with pytest.raises(ExchangeError) as refused:
        await _call(desk, "amend_order_keep_priority", orderId=str(placed["orderId"]), newQty=new_qty)
    assert (refused.value.code, refused.value.msg) == (-2038, msg)
    assert (await _balances(desk))["USDT"] == (D(910), D(90))


@pytest.mark.parametrize("tool", ["get_order", "cancel_order", "get_my_trades", "get_all_orders", "get_open_orders"])
async def test_an_unknown_symbol_is_an_invalid_symbol_as_on_binance(tmp_path, tool):
    desk = _desk(tmp_path, _market())
    params = {"orderId": "1"} if tool in ("get_order", "cancel_order") else {}
    with pytest.raises(ExchangeError) as refused:
        await _call(desk, tool, symbol="NOPEUSDT", **params)
    assert (refused.value.code, refused.value.msg) == (-1121, "Invalid symbol.")


# ------------------------------------------------------------------ concurrency inside one process
async def test_many_concurrent_orders_on_one_account_never_overspend(tmp_path):
    desk = _desk(tmp_path, _market())
    outcomes: list[str] = []

    async def buy(index: int) -> None:
        kind = {"side": "BUY", "type": "MARKET", "quantity": "1"} if index % 2 else {
            "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "1", "price": "95"}
        try:
            placed = await _call(desk, "place_order", **kind)
            outcomes.append(placed["status"])
        except ExchangeError as exc:
            assert exc.code == -2010
            outcomes.append("refused")

    with anyio.fail_after(30):
        async with anyio.create_task_group() as group:
            for index in range(20):
                group.start_soon(buy, index)
    balances = await _balances(desk)
    free, locked = balances["USDT"]
    assert free >= 0 and locked >= 0
    bought = balances["BTC"][0] - 1  # 1 BTC less 0.1 % commission per market buy
    market_buys = outcomes.count("FILLED")
    assert bought == market_buys * D("0.999")
    # every USDT is accounted for: spent at 101, locked at 95, or still free
    assert free + locked + market_buys * 101 == 1000
    assert locked == outcomes.count("NEW") * 95
    # 20 orders of at least 95 USDT on 1000: most are refused, and only once too little was free
    assert outcomes.count("refused") >= 10 and free < 101


async def test_a_cancel_racing_the_catch_up_that_fills_the_order_is_one_or_the_other(tmp_path):
    market = _market()
    desk = _desk(tmp_path, market)
    placed = await _call(desk, "place_order", side="BUY", type="LIMIT", timeInForce="GTC", quantity="1", price="99.5")
    market.trade(D(99), D(5), True)  # through its price: the next catch-up fills it
    other = _desk(tmp_path, market)  # a second process on the same database
    results: dict[str, Any] = {}

    async def cancel() -> None:
        try:
            results["cancel"] = await _call(other, "cancel_order", orderId=str(placed["orderId"]))
        except ExchangeError as exc:
            results["cancel"] = exc.code

    with anyio.fail_after(30):
        async with anyio.create_task_group() as group:
            group.start_soon(cancel)
            group.start_soon(_call, desk, "get_open_orders")
    order = await _call(desk, "get_order", orderId=str(placed["orderId"]))
    trades = await _call(desk, "get_my_trades")
    balances = await _balances(desk)
    assert balances["USDT"][1] == 0  # nothing stays locked either way
    if order["status"] == "FILLED":
        assert results["cancel"] == -2011 and len(trades) == 1
        assert balances["USDT"][0] == D(1000) - D("99.5")
    else:
        assert order["status"] == "CANCELED" and trades == [] and balances["USDT"][0] == 1000


async def test_an_amend_racing_the_fill_never_frees_what_the_fill_spends(tmp_path):
    market = _market()
    desk = _desk(tmp_path, market)
    placed = await _call(desk, "place_order", side="BUY", type="LIMIT", timeInForce="GTC", quantity="1", price="99.5")
    market.trade(D(99), D("0.6"), True)  # fills 0.6 of it on the next catch-up
    other = _desk(tmp_path, market)
    with anyio.fail_after(30):
        async with anyio.create_task_group() as group:
            group.start_soon(lambda: _call(other, "amend_order_keep_priority", orderId=str(placed["orderId"]), newQty="0.7"))
            group.start_soon(_call, desk, "get_open_orders")
    await _call(desk, "get_open_orders")
    order = await _call(desk, "get_order", orderId=str(placed["orderId"]))
    free, locked = (await _balances(desk))["USDT"]
    assert (order["origQty"], order["executedQty"]) == ("0.70000000", "0.60000000")
    assert locked == D("0.1") * D("99.5") and free == 1000 - D("0.7") * D("99.5")
    await _call(desk, "cancel_order", orderId=str(placed["orderId"]))  # gives back exactly what is still locked
    assert (await _balances(desk))["USDT"] == (1000 - D("0.6") * D("99.5"), D(0))
