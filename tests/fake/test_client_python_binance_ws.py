"""python-binance, an independent client, drives the fake's WebSocket side as it does in production
(issue 23): its ``BinanceSocketManager`` (raw ``/ws/<name>`` and combined ``/stream?streams=``
sockets for trades, diff depth, klines and tickers), its ``DepthCacheManager`` (diff depth kept
against the REST snapshot) and its user socket (the WebSocket API's
``userDataStream.subscribe.signature``). Every URL is the fake's on 127.0.0.1; the trades come
from REST orders of a second account; every step has a timeout.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any, Awaitable, Callable

import pytest
from binance import AsyncClient, BinanceSocketManager, DepthCacheManager
from binance.ws.reconnecting_websocket import ReconnectingWebsocket

from tests.fake.ws_support import Trader, depth, new_trader, order
from tests.fake_binance import RunningFake

STEP_TIMEOUT_S = 10.0

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(autouse=True)
def _short_read_poll(monkeypatch: pytest.MonkeyPatch) -> None:
    """python-binance's sockets wait up to ``TIMEOUT`` (10 s) for a frame before looking again, and
    closing one waits for that look; a shorter poll keeps each test quick and changes nothing on the wire."""
    monkeypatch.setattr(ReconnectingWebsocket, "TIMEOUT", 0.2)


async def _client(fake: RunningFake, trader: Trader) -> tuple[Any, Any]:
    """A python-binance client and socket manager whose every URL is the fake's."""
    client_class = type("FakeAsyncClient", (AsyncClient,), {
        "API_URL": f"{fake.base_url}/api", "API_TESTNET_URL": f"{fake.base_url}/api",
        "MARGIN_API_URL": f"{fake.base_url}/sapi", "WS_API_URL": fake.ws_api_url,
        "WS_API_TESTNET_URL": fake.ws_api_url})
    manager_class = type("FakeSocketManager", (BinanceSocketManager,), {"STREAM_URL": f"{fake.stream_url}/"})
    client = await asyncio.wait_for(client_class.create(trader.api_key, trader.secret), STEP_TIMEOUT_S)
    return client, manager_class(client)


def _run(fake: RunningFake, scenario: Callable[[Any, Any, Trader], Awaitable[None]]) -> None:
    me, other = new_trader(fake), new_trader(fake)

    async def main() -> None:
        client, manager = await _client(fake, me)
        try:
            await scenario(client, manager, other)
        finally:
            await client.close_connection()

    asyncio.run(asyncio.wait_for(main(), STEP_TIMEOUT_S * 3))
    assert fake.streams.limit_violations == 0


async def _recv(socket: Any, predicate: Callable[[dict[str, Any]], bool] = lambda m: True) -> dict[str, Any]:
    while True:
        message = await asyncio.wait_for(socket.recv(), STEP_TIMEOUT_S)
        assert message.get("e") != "error", message
        if predicate(message):
            return message


def _subscribed(fake: RunningFake, *streams: str) -> Callable[[], Awaitable[None]]:
    async def wait() -> None:
        ok = await asyncio.to_thread(fake.streams.wait_until,
                                     lambda: set(streams) <= set(fake.streams.market_streams()), STEP_TIMEOUT_S)
        assert ok, fake.streams.market_streams()
    return wait


def test_socket_manager_raw_and_combined_sockets(fake_exchange: RunningFake) -> None:
    fake = fake_exchange
    fake.streams.period_s = 0.1

    async def scenario(client: Any, manager: Any, other: Trader) -> None:
        async with manager.trade_socket("BTCUSDT") as trades, manager.depth_socket("BTCUSDT") as diffs, \
                manager.multiplex_socket(["btcusdt@kline_1m", "btcusdt@ticker"]) as combined:
            await _subscribed(fake, "btcusdt@trade", "btcusdt@depth", "btcusdt@kline_1m", "btcusdt@ticker")()
            filled = await asyncio.to_thread(order, fake, other, "BUY", "0.001")
            trade = await _recv(trades)
            assert trade["e"] == "trade" and trade["t"] == filled["fills"][0]["tradeId"]
            update = await _recv(diffs)
            assert update["e"] == "depthUpdate" and update["u"] == depth(fake)["lastUpdateId"]
            # periodic pushes sent before the trade may still be in the socket: wait for the ones
            # that count it (n: the number of trades in the candle / the 24 h window)
            kline = await _recv(combined, lambda m: m["stream"] == "btcusdt@kline_1m" and m["data"]["k"]["n"] >= 1)
            assert Decimal(kline["data"]["k"]["c"]) == Decimal(filled["fills"][0]["price"])
            ticker = await _recv(combined, lambda m: m["stream"] == "btcusdt@ticker" and m["data"]["n"] >= 1)
            assert ticker["data"]["e"] == "24hrTicker" and ticker["data"]["n"] == 1

    _run(fake, scenario)


def test_depth_cache_manager_keeps_the_fakes_book(fake_exchange: RunningFake) -> None:
    fake = fake_exchange

    async def scenario(client: Any, manager: Any, other: Trader) -> None:
        async with DepthCacheManager(client, "BTCUSDT", bm=manager, limit=100, refresh_interval=0) as cache:
            await _subscribed(fake, "btcusdt@depth")()
            await asyncio.to_thread(order, fake, other, "BUY", "0.02", "59995.00")
            book = await asyncio.wait_for(cache.recv(), STEP_TIMEOUT_S)
            while cache._last_update_id < depth(fake)["lastUpdateId"]:  # python-binance keeps it private
                book = await asyncio.wait_for(cache.recv(), STEP_TIMEOUT_S)
            rest = depth(fake, limit=100)
            assert book.get_bids()[0] == [59995.0, 0.02]
            assert [[Decimal(str(p)), Decimal(str(q))] for p, q in book.get_bids()] == [
                [Decimal(p), Decimal(q)] for p, q in rest["bids"]]
            assert [[Decimal(str(p)), Decimal(str(q))] for p, q in book.get_asks()] == [
                [Decimal(p), Decimal(q)] for p, q in rest["asks"]]

    _run(fake, scenario)


def test_user_socket_gets_the_accounts_own_events(fake_exchange: RunningFake) -> None:
    fake = fake_exchange

    async def scenario(client: Any, manager: Any, other: Trader) -> None:
        await asyncio.to_thread(order, fake, other, "SELL", "0.002", "60003.00")
        async with manager.user_socket() as user:
            ok = await asyncio.to_thread(fake.streams.wait_until, lambda: len(fake.streams.user_subscribers()) == 1,
                                         STEP_TIMEOUT_S)
            assert ok
            placed = await client.order_market_buy(symbol="BTCUSDT", quantity="0.002")
            report = await _recv(user, lambda m: m.get("e") == "executionReport" and m["x"] == "TRADE")
            assert report["i"] == placed["orderId"] and report["L"] == placed["fills"][0]["price"]
            assert (report["n"], report["N"]) == (placed["fills"][0]["commission"], "BTC")
            position = await _recv(user, lambda m: m.get("e") == "outboundAccountPosition")
            assert {b["a"] for b in position["B"]} == {"BTC", "USDT"}

    _run(fake, scenario)
