"""Two server processes on one paper account (the same TOOLS.md and state directory, so the same
SQLite file) race 20 MARKET BUYs that together cost far more than the account holds: the ones
accepted fit the balance, every other one is refused with -2010, and the final balances are the
starting ones minus exactly the accepted fills: no double spend, no lost update, no order id twice."""

from __future__ import annotations

import json
import os
from decimal import Decimal as D
from typing import Any

import anyio
import pytest

from tests.e2e_support import result_json, stdio_client_for
from tests.paper.paper_support import signed_requests, write_paper_tools

pytestmark = pytest.mark.anyio

START_USDT = D(10000)
START_BTC = D("0.5")
BUY = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.03"}  # ~1,801 USDT at the fake's 60030 ask
PER_PROCESS = 10


async def test_two_processes_racing_twenty_orders_never_overspend(tmp_path, fake_exchange):
    tools = write_paper_tools(tmp_path, fake_exchange.base_url,
                              f"### main\n- Environment: paper\n- Base URL: {fake_exchange.base_url}\n"
                              f"- Paper Balances: {START_USDT} USDT, {START_BTC} BTC\n")
    outcomes: list[Any] = []
    # a mutation run points PYTHONPATH at a changed copy of the package: the servers must use it too
    env = {"PYTHONPATH": os.environ["PYTHONPATH"]} if os.environ.get("PYTHONPATH") else {}

    async def burst(client: Any) -> None:
        async def one() -> None:
            outcomes.append(await client.call_tool("place_order", BUY))

        async with anyio.create_task_group() as tg:
            for _ in range(PER_PROCESS):
                tg.start_soon(one)

    with anyio.fail_after(120):
        async with stdio_client_for(tools, "legacy", env, base_url=fake_exchange.base_url) as (first, _), \
                stdio_client_for(tools, "legacy", env, base_url=fake_exchange.base_url) as (second, _):
            # both processes have opened the database before the race starts
            for client in (first, second):
                assert not (await client.call_tool("get_account", {})).is_error
            async with anyio.create_task_group() as tg:
                tg.start_soon(burst, first)
                tg.start_soon(burst, second)
            account = result_json(await first.call_tool("get_account", {}))
            trades = result_json(await second.call_tool("get_my_trades", {"symbol": "BTCUSDT"}))

    assert len(outcomes) == 2 * PER_PROCESS
    accepted = [result_json(o) for o in outcomes if not o.is_error]
    refused = [json.loads(o.content[0].text) for o in outcomes if o.is_error]
    assert all(r["code"] == -2010 and "insufficient balance" in r["msg"] for r in refused), refused
    assert accepted and refused, "the race must both fill and refuse orders to prove anything"
    assert all(a["status"] == "FILLED" for a in accepted)
    assert len({a["orderId"] for a in accepted}) == len(accepted), "an order id was handed out twice"

    spent = sum((D(a["cummulativeQuoteQty"]) for a in accepted), D(0))
    bought = sum((D(f["qty"]) - D(f["commission"]) for a in accepted for f in a["fills"]), D(0))
    one_more = D(accepted[0]["cummulativeQuoteQty"])
    assert spent <= START_USDT
    assert START_USDT - spent < one_more, "an order was refused although the balance could pay for it"
    balances = {b["asset"]: (D(b["free"]), D(b["locked"])) for b in account["balances"]}
    assert balances["USDT"] == (START_USDT - spent, D(0))
    assert balances["BTC"] == (START_BTC + bought, D(0))
    assert len(trades) == sum(len(a["fills"]) for a in accepted)
    assert signed_requests(fake_exchange) == []
