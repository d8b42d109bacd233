"""A reviewer's attacks on the paper desk's money: balances stay whole while many calls on one
account run at once (concurrent orders, a cancel or an amend racing the catch-up that fills the
same order), an OCO's one lock and its stop survive what other orders and amends do, and an order
may spend what another symbol's resting order has already earned. In-process market (``paper_stub``)."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import anyio
import pytest
from binance_spot_mcp.errors import ExchangeError
from binance_spot_mcp.paper.desk import PaperDesk
from binance_spot_mcp.store import Store

from tests.paper.paper_stub import StubMarket
from tests.paper.review_support import (
    _balances,
    _call,
    _desk,
    _market,
)

pytestmark = pytest.mark.anyio


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


async def test_an_oco_keeps_its_stop_when_an_older_order_takes_the_trade_its_limit_maker_hoped_for(tmp_path):
    """The first leg to *execute* wins. A trade at the LIMIT_MAKER leg's price that an older order of
    the account at the same price takes whole never reaches the leg: the list must stay whole, its
    stop still guarding the position, and the stop must still sell when the price falls."""
    market = _market()
    desk = _desk(tmp_path, market)
    older = await _call(desk, "place_order", side="SELL", type="LIMIT", timeInForce="GTC", quantity="0.1", price="110")
    oco = await _call(desk, "place_order_list_oco", side="SELL", quantity="0.2", aboveType="LIMIT_MAKER",
                      abovePrice="110", belowType="STOP_LOSS", belowStopPrice="95")
    market.trade(D(110), D("0.1"), False)  # a buyer takes 0.1 at 110: the older order is ahead of the leg
    assert (await _call(desk, "get_order", orderId=str(older["orderId"])))["status"] == "FILLED"
    legs = {o["type"]: o for o in await _call(desk, "get_open_orders")}
    assert set(legs) == {"LIMIT_MAKER", "STOP_LOSS"}, legs  # nothing executed: both legs still open
    market.trade(D(94), D(1), True)  # the fall the stop is there for
    stop = await _call(desk, "get_order", orderId=str(legs["STOP_LOSS"]["orderId"]))
    assert (stop["status"], stop["executedQty"]) == ("FILLED", "0.20000000")
    assert (await _call(desk, "get_order_list", orderListId=str(oco["orderListId"])))["listOrderStatus"] == "ALL_DONE"
    assert (await _balances(desk))["BTC"] == (D("0.7"), D(0))


async def test_a_leg_expired_by_its_stop_takes_no_liquidity_from_another_lists_leg(tmp_path):
    """Two SELL OCOs at the same LIMIT_MAKER price. The older list's stop triggers first, so its
    LIMIT_MAKER leg is expired and cannot take the rise that follows: the younger list's leg fills
    and its stop expires. Never a filled leg beside a still-open stop of the same list (that would
    sell the position twice), and every lock matches what is still open."""
    market = _market()
    desk = _desk(tmp_path, market)
    first = await _call(desk, "place_order_list_oco", side="SELL", quantity="0.2", aboveType="LIMIT_MAKER",
                        abovePrice="110", belowType="STOP_LOSS", belowStopPrice="95")
    second = await _call(desk, "place_order_list_oco", side="SELL", quantity="0.2", aboveType="LIMIT_MAKER",
                         abovePrice="110", belowType="STOP_LOSS", belowStopPrice="90")
    market.trade(D("94.5"), D(1), True)  # triggers the first list's stop only
    market.trade(D(110), D("0.2"), False)  # a buyer lifts 0.2 at 110
    await _call(desk, "get_open_orders")
    lists = {}
    for placed in (first, second):
        legs = {o["type"]: await _call(desk, "get_order", orderId=str(o["orderId"])) for o in placed["orderReports"]}
        lists[placed["orderListId"]] = {kind: (leg["status"], leg["executedQty"]) for kind, leg in legs.items()}
    assert lists[first["orderListId"]] == {"STOP_LOSS": ("FILLED", "0.20000000"), "LIMIT_MAKER": ("EXPIRED", "0.00000000")}
    assert lists[second["orderListId"]] == {"STOP_LOSS": ("EXPIRED", "0.00000000"), "LIMIT_MAKER": ("FILLED", "0.20000000")}
    assert (await _balances(desk))["BTC"] == (D("0.6"), D(0))


async def test_amending_one_oco_leg_keeps_the_list_able_to_pay_for_its_other_leg(tmp_path):
    """An OCO locks its quantity once, for both legs. Amending one leg down must not free what the
    other (unamended) leg may still sell: else, once that BTC is sold elsewhere, the other leg's fill
    cannot be paid, and every later call of the account fails in the catch-up."""
    market = _market()
    desk = _desk(tmp_path, market)
    oco = await _call(desk, "place_order_list_oco", side="SELL", quantity="0.2", aboveType="LIMIT_MAKER",
                      abovePrice="110", belowType="STOP_LOSS", belowStopPrice="95")
    stop = next(o for o in oco["orderReports"] if o["type"] == "STOP_LOSS")
    await _call(desk, "amend_order_keep_priority", orderId=str(stop["orderId"]), newQty="0.1")
    assert (await _balances(desk))["BTC"] == (D("0.8"), D("0.2"))  # the LIMIT_MAKER leg still sells 0.2
    with pytest.raises(ExchangeError):  # the locked 0.2 cannot be sold elsewhere
        await _call(desk, "place_order", side="SELL", type="MARKET", quantity="0.9")
    await _call(desk, "place_order", side="SELL", type="MARKET", quantity="0.8")
    market.trade(D(110), D(1), False)  # the LIMIT_MAKER leg fills whole
    await _call(desk, "get_open_orders")
    maker = next(o for o in oco["orderReports"] if o["type"] == "LIMIT_MAKER")
    assert (await _call(desk, "get_order", orderId=str(maker["orderId"])))["status"] == "FILLED"
    assert (await _balances(desk))["BTC"] == (D(0), D(0))


async def test_an_order_may_spend_what_another_symbols_resting_order_has_already_earned(tmp_path):
    """The funds check sees the balances as of now: a BTC sell that the market has filled since the
    last call pays for an ETH buy placed next (the catch-up before an order reads only its own
    symbol; when the balance falls short, the other symbols are caught up before refusing)."""
    from tests.paper.paper_stub import symbol_entry

    btc, eth = _market(), StubMarket(entry=symbol_entry("ETHUSDT", "ETH", "USDT"))
    eth.set_book([(D(9), D(1000))], [(D(10), D(1000))])
    eth.trade(D(10), D(1), False)
    markets = {"BTCUSDT": btc, "ETHUSDT": eth}

    async def public(tool: str, params: Any, base_url: str) -> Any:
        return await markets[dict(params)["symbol"]].public(tool, params, base_url)

    desk = PaperDesk(Store(tmp_path / "desk.sqlite3"), public, clock_ms=lambda: 1_000)
    await _call(desk, "place_order", side="SELL", type="LIMIT", timeInForce="GTC", quantity="1", price="105")
    btc.trade(D(106), D(2), False)  # a buyer lifts it: +105 USDT less 0.1 %
    bought = await _call(desk, "place_order", "ETHUSDT", side="BUY", type="MARKET", quoteOrderQty="1050")
    assert (bought["status"], bought["executedQty"]) == ("FILLED", "105.00000000")
    assert (await _balances(desk))["USDT"] == (D("1104.895") - 1050, D(0))


async def test_concurrent_oco_lists_never_lock_more_than_is_held(tmp_path):
    desk = _desk(tmp_path, _market())
    outcomes: list[str] = []

    async def oco() -> None:
        try:
            await _call(desk, "place_order_list_oco", side="SELL", quantity="0.3", aboveType="LIMIT_MAKER",
                        abovePrice="110", belowType="STOP_LOSS", belowStopPrice="95")
            outcomes.append("placed")
        except ExchangeError as exc:
            assert exc.code == -2010
            outcomes.append("refused")

    with anyio.fail_after(30):
        async with anyio.create_task_group() as group:
            for _ in range(8):
                group.start_soon(oco)
    assert outcomes.count("placed") == 3  # 3 x 0.3 of 1 BTC; a fourth would need 1.2
    assert (await _balances(desk))["BTC"] == (D("0.1"), D("0.9"))
