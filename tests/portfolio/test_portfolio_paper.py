"""get_portfolio on a paper account: the same tool, through the runtime's client, answered by the
paper desk; nothing signed reaches the exchange. Figures by hand from the fake's seeded book."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext

import anyio
import pytest

from tests.e2e_support import memory_client
from tests.paper.paper_support import result, signed_requests, write_paper_tools

pytestmark = pytest.mark.anyio
D = Decimal


async def test_a_paper_accounts_portfolio(tmp_path, fake_exchange):
    tools = write_paper_tools(tmp_path, fake_exchange.base_url,
                              "### main\n- Environment: paper\n- Paper Balances: 100000 USDT, 1 BTC\n")
    async with memory_client(tools, "auto", fake_exchange.base_url) as client:
        placed = result(await client.call_tool(
            "place_order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.7"}))
        assert placed["status"] == "FILLED"
        with anyio.fail_after(60):
            got = await client.call_tool("get_portfolio", {"method": "fifo"})
    assert not got.is_error, got.content[0].text
    rows = {r["asset"]: r for r in got.structured_content["assets"]}
    # seeded asks: 0.5 at 60030 and 0.2 at 60060, fee 0.1 % in BTC; 1 BTC was there before any trade
    with localcontext(Context(prec=34, rounding=ROUND_HALF_EVEN)):
        bought = D("0.4995") + D("0.1998")
        held = D("1") + bought
        cost = D("30015") + D("12012")
        assert rows["BTC"]["quantity"] == "1.6993"
        assert rows["BTC"]["coverage_pct"] == f"{(bought / held * 100).quantize(D('0.01')):f}"
        assert rows["BTC"]["cost"] == f"{cost.quantize(D('0.00000001')):f}"
    assert got.structured_content["sync"]["new_trades"] == 2
    assert signed_requests(fake_exchange) == []
