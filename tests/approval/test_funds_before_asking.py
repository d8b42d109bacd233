"""No one is asked to approve an order the account certainly cannot pay for (issue 27, item 2):
the server reads the balances first and refuses with what is missing; nothing is sent. What is
not certain (a MARKET BUY by quantity) is still asked and left to Binance."""

from __future__ import annotations

from decimal import Decimal

import pytest
from binance_spot_mcp.exchange.funds import free_of, needed

from tests.approval_support import Human, host, runtime_for, sends
from tests.e2e_support import result_json

pytestmark = pytest.mark.anyio
INFO = {"symbols": [{"symbol": "BTCUSDT", "baseAsset": "BTC", "quoteAsset": "USDT"}]}


def _fund(world, usdt: str, btc: str) -> None:
    account = world.exchange.account_for(world.keys.live_api_key)
    with world.exchange.lock:
        account.balances["USDT"] = [Decimal(usdt), Decimal(0)]
        account.balances["BTC"] = [Decimal(btc), Decimal(0)]


@pytest.mark.parametrize(("order", "missing"), [
    ({"side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "1", "price": "50000"},
     "the order needs 50000 USDT free and the account has 1000 USDT"),
    ({"side": "SELL", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.5", "price": "70000"},
     "the order needs 0.5 BTC free and the account has 0.1 BTC"),
    ({"side": "BUY", "type": "MARKET", "quoteOrderQty": "2000"},
     "the order needs 2000 USDT free and the account has 1000 USDT"),
])
@pytest.mark.parametrize("channel", ["form", "url", "apps"])
async def test_an_order_the_account_cannot_pay_for_is_refused_before_anyone_is_asked(world, monkeypatch, channel, order, missing):
    _fund(world, "1000", "0.1")
    runtime = runtime_for(world)
    human = Human("approve")
    try:
        async with host(runtime, channel, "legacy", human, monkeypatch) as client:
            result = await client.call_tool("place_order", {"symbol": "BTCUSDT", "account": "live", **order})
    finally:
        await runtime.aclose()
    body = result_json(result)
    assert result.is_error and body["error"] == "insufficient_balance", body
    assert body["message"].startswith(missing) and "nothing was sent" in body["message"]
    assert human.asked == [] and human.pages == []  # no question, no page, no card
    assert sends(world) == 0


async def test_what_the_account_can_pay_for_or_what_is_not_certain_is_still_asked(world, monkeypatch):
    _fund(world, "1000", "0.1")
    runtime = runtime_for(world)
    human = Human("decline")
    try:
        async with host(runtime, "form", "legacy", human, monkeypatch) as client:
            await client.call_tool("place_order", {"symbol": "BTCUSDT", "account": "live", "side": "BUY", "type": "LIMIT",
                                                   "timeInForce": "GTC", "quantity": "0.01", "price": "50000"})
            await client.call_tool("place_order", {"symbol": "BTCUSDT", "account": "live", "side": "BUY", "type": "MARKET",
                                                   "quantity": "5"})  # its price is not known yet: Binance decides
    finally:
        await runtime.aclose()
    assert len(human.asked) == 2 and sends(world) == 0


def test_only_what_is_certain_counts_and_a_missing_asset_is_held_at_zero():
    assert needed("place_order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "1"}, INFO) is None
    assert needed("place_order", {"symbol": "BTCUSDT", "side": "BUY", "type": "STOP_LOSS", "quantity": "1",
                                  "stopPrice": "1"}, INFO) is None
    assert needed("place_order_list_oco", {"symbol": "BTCUSDT"}, INFO) is None
    assert needed("place_order", {"symbol": "ETHUSDT", "side": "SELL", "type": "MARKET", "quantity": "1"}, INFO) is None
    assert needed("place_order", {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT_MAKER", "quantity": "2",
                                  "price": "3"}, INFO) == ("USDT", Decimal(6))
    assert free_of({"balances": [{"asset": "BTC", "free": "1.5", "locked": "0"}]}, "USDT") == Decimal(0)
    assert free_of({"balances": [{"asset": "BTC", "free": "1.5", "locked": "0"}]}, "BTC") == Decimal("1.5")
    assert free_of({"nothing": True}, "BTC") is None
