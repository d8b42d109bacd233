"""ccxt.pro, an independent client, runs its Binance spot watchers against the fake's WebSocket side
(issue 23): ``watch_trades``, ``watch_ticker``, ``watch_ohlcv``, ``watch_bids_asks``,
``watch_order_book`` (diff depth against the REST snapshot), ``watch_orders``, ``watch_balance`` and
``watch_my_trades`` (the WebSocket API's ``userDataStream.subscribe.signature``).

Every ccxt URL (REST and WebSocket) points at the fake on 127.0.0.1, so nothing reaches the
internet; the trades come from REST orders of a second account. Each step is bounded by a timeout.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any, Awaitable, Callable

import ccxt.pro as ccxtpro  # ccxt.pro ships inside ccxt (dev extras)
import pytest

from tests.fake.ws_support import Trader, depth, new_trader, order
from tests.fake_binance import RunningFake

STEP_TIMEOUT_S = 10.0


def _client(fake: RunningFake, trader: Trader) -> Any:
    client = ccxtpro.binance({
        "apiKey": trader.api_key, "secret": trader.secret, "enableRateLimit": False, "timeout": 10_000,
        "options": {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False, "fetchMargins": False,
                    "defaultType": "spot"},
    })
    for name, url in list(client.urls["api"].items()):  # everything to the fake, nothing to the internet
        if isinstance(url, str):
            rest_of = url.split("://", 1)[1]
            path = rest_of.split("/", 1)[1] if "/" in rest_of else ""
            client.urls["api"][name] = f"{fake.base_url}/{path}"
    client.urls["api"]["ws"] = {"spot": f"{fake.stream_url}/ws", "margin": f"{fake.stream_url}/ws",
                                "ws-api": {"spot": fake.ws_api_url}}
    return client


def _run(fake: RunningFake, scenario: Callable[[Any, Trader], Awaitable[None]]) -> None:
    """Run ``scenario(client, counterparty)`` with a ccxt.pro client of a fresh account, then close it."""
    me, other = new_trader(fake), new_trader(fake)
    fake.streams.period_s = 0.1  # periodic streams (ticker, kline) every 100 ms instead of every second

    async def main() -> None:
        client = _client(fake, me)
        try:
            await asyncio.wait_for(client.load_markets(), STEP_TIMEOUT_S)
            await scenario(client, other)
        finally:
            await client.close()

    asyncio.run(main())


async def _once_subscribed(fake: RunningFake, watch: Awaitable[Any], ready: Callable[[], bool],
                           act: Callable[[], Any]) -> Any:
    """Start ``watch``, wait until the fake sees the subscription, ``act`` (off the loop), return the result."""
    task = asyncio.ensure_future(watch)
    ok = await asyncio.to_thread(fake.streams.wait_until, ready, STEP_TIMEOUT_S)
    assert ok, "the client never subscribed"
    await asyncio.to_thread(act)
    return await asyncio.wait_for(task, STEP_TIMEOUT_S)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_public_watchers(fake_exchange: RunningFake) -> None:
    fake = fake_exchange

    async def scenario(client: Any, other: Trader) -> None:
        filled: dict[str, Any] = {}
        trades = await _once_subscribed(
            fake, client.watch_trades("BTC/USDT"), lambda: "btcusdt@trade" in fake.streams.market_streams(),
            lambda: filled.update(order(fake, other, "BUY", "0.001")))
        assert trades[-1]["id"] == str(filled["fills"][0]["tradeId"])
        assert Decimal(str(trades[-1]["price"])) == Decimal(filled["fills"][0]["price"])
        ticker = await asyncio.wait_for(client.watch_ticker("BTC/USDT"), STEP_TIMEOUT_S)
        assert Decimal(str(ticker["last"])) == Decimal(filled["fills"][0]["price"])
        candles = await asyncio.wait_for(client.watch_ohlcv("BTC/USDT", "1m"), STEP_TIMEOUT_S)
        assert candles[-1][4] == ticker["last"]
        asks = await _once_subscribed(
            fake, client.watch_bids_asks(["BTC/USDT"]), lambda: "btcusdt@bookTicker" in fake.streams.market_streams(),
            lambda: order(fake, other, "SELL", "0.01", "60005.00"))
        assert asks["BTC/USDT"]["ask"] == 60005.0

    _run(fake, scenario)
    assert fake.streams.limit_violations == 0


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_watch_order_book_keeps_the_book_of_the_fake(fake_exchange: RunningFake) -> None:
    fake = fake_exchange

    async def scenario(client: Any, other: Trader) -> None:
        book = await asyncio.wait_for(client.watch_order_book("BTC/USDT"), STEP_TIMEOUT_S)  # the REST snapshot
        assert book["nonce"] == depth(fake)["lastUpdateId"]
        await asyncio.to_thread(order, fake, other, "BUY", "0.02", "59995.00")
        await asyncio.to_thread(order, fake, other, "SELL", "0.004")  # takes part of the new best bid
        while client.orderbooks["BTC/USDT"]["nonce"] < depth(fake)["lastUpdateId"]:
            book = await asyncio.wait_for(client.watch_order_book("BTC/USDT"), STEP_TIMEOUT_S)
        rest = depth(fake, limit=1000)
        assert book["bids"][0] == [59995.0, 0.016]
        assert [[Decimal(str(p)), Decimal(str(q))] for p, q in book["bids"]] == [
            [Decimal(p), Decimal(q)] for p, q in rest["bids"]]
        assert [[Decimal(str(p)), Decimal(str(q))] for p, q in book["asks"]] == [
            [Decimal(p), Decimal(q)] for p, q in rest["asks"]]

    _run(fake, scenario)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_private_watchers_see_the_accounts_own_fills(fake_exchange: RunningFake) -> None:
    fake = fake_exchange

    async def scenario(client: Any, other: Trader) -> None:
        await asyncio.to_thread(order, fake, other, "SELL", "0.002", "60001.00")
        orders_task = asyncio.ensure_future(client.watch_orders("BTC/USDT"))
        subscribed = await asyncio.to_thread(fake.streams.wait_until, lambda: len(fake.streams.user_subscribers()) == 1,
                                             STEP_TIMEOUT_S)
        assert subscribed
        trades_task = asyncio.ensure_future(client.watch_my_trades("BTC/USDT"))
        balance_task = asyncio.ensure_future(client.watch_balance())
        await asyncio.sleep(0)  # let both watchers register before the order is placed
        placed = await client.create_order("BTC/USDT", "market", "buy", 0.002)
        orders = await asyncio.wait_for(orders_task, STEP_TIMEOUT_S)
        assert orders[-1]["id"] == placed["id"]
        my_trades = await asyncio.wait_for(trades_task, STEP_TIMEOUT_S)
        assert my_trades[-1]["order"] == placed["id"] and my_trades[-1]["price"] == 60001.0
        assert my_trades[-1]["fee"]["currency"] == "BTC" and my_trades[-1]["fee"]["cost"] == 0.000002
        balance = await asyncio.wait_for(balance_task, STEP_TIMEOUT_S)
        assert balance["BTC"]["free"] == pytest.approx(1.001998)

    _run(fake, scenario)
    assert fake.streams.limit_violations == 0
