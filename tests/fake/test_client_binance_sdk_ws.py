"""Binance's own SDK (``binance-sdk-spot``) drives the fake's WebSocket side the way it does in
production (issue 23): its WebSocket Streams client (``/stream`` + ``SUBSCRIBE``) for trades, diff
depth and klines, and its WebSocket API client for market data, orders, the account, a session
logged on with an Ed25519 key and the user data stream. Trades come from REST orders of a second
account; every URL is the fake's on 127.0.0.1 and every step has a timeout.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any, Awaitable, Callable, TypeVar

import pytest
from binance_common.configuration import ConfigurationWebSocketAPI, ConfigurationWebSocketStreams
from binance_sdk_spot.spot import Spot
from binance_sdk_spot.websocket_api.models import OrderPlaceSideEnum, OrderPlaceTypeEnum

from tests.fake.ws_support import Trader, depth, new_trader, order
from tests.fake_binance import RunningFake

STEP_TIMEOUT_S = 10.0
T = TypeVar("T")

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the SDK's own use of aiohttp


def _run(main: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(asyncio.wait_for(main(), STEP_TIMEOUT_S * 3))


def _plain(message: Any) -> dict[str, Any]:
    """An SDK event model (or its oneOf wrapper) as the JSON it came from."""
    inner = getattr(message, "actual_instance", None) or message
    return inner.to_dict() if hasattr(inner, "to_dict") else dict(inner)


async def _next(queue: asyncio.Queue[dict[str, Any]], predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    while True:
        item = await asyncio.wait_for(queue.get(), STEP_TIMEOUT_S)
        if predicate(item):
            return item


def test_websocket_streams_client_gets_trades_diff_depth_and_klines(fake_exchange: RunningFake) -> None:
    fake, other = fake_exchange, new_trader(fake_exchange)
    fake.streams.period_s = 0.1

    async def main() -> None:
        client = Spot(config_ws_streams=ConfigurationWebSocketStreams(stream_url=fake.stream_url, reconnect_attempts=1))
        connection = await client.websocket_streams.create_connection()
        events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        try:
            for handle in (await connection.trade(symbol="btcusdt"), await connection.diff_book_depth(symbol="btcusdt"),
                           await connection.kline(symbol="btcusdt", interval="1m")):
                handle.on("message", lambda m: events.put_nowait(_plain(m)))
            ok = await asyncio.to_thread(fake.streams.wait_until, lambda: len(fake.streams.market_streams()) == 3)
            assert ok, fake.streams.market_streams()
            filled = await asyncio.to_thread(order, fake, other, "BUY", "0.001")
            trade = await _next(events, lambda e: e.get("e") == "trade")
            assert trade["t"] == filled["fills"][0]["tradeId"] and trade["s"] == "BTCUSDT"
            update = await _next(events, lambda e: e.get("e") == "depthUpdate")
            assert update["u"] == depth(fake)["lastUpdateId"]
            # a periodic kline pushed before the trade may come first: wait for the one that counts it
            kline = await _next(events, lambda e: e.get("e") == "kline" and int(e["k"]["n"]) >= 1)
            assert Decimal(kline["k"]["c"]) == Decimal(filled["fills"][0]["price"])
            listed = await connection.list_subscribe()
            assert sorted(listed["result"]) == sorted(fake.streams.market_streams())
        finally:
            await connection.close_connection()

    _run(main)
    assert fake.streams.limit_violations == 0


def _api(fake: RunningFake, trader: Trader) -> Any:
    if trader.private is not None:
        config = ConfigurationWebSocketAPI(api_key=trader.api_key, private_key=trader.private_pem,
                                           stream_url=fake.ws_api_url, reconnect_attempts=1)
    else:
        config = ConfigurationWebSocketAPI(api_key=trader.api_key, api_secret=trader.secret,
                                           stream_url=fake.ws_api_url, reconnect_attempts=1)
    return Spot(config_ws_api=config).websocket_api


def test_websocket_api_client_trades_and_reads_the_user_data_stream(fake_exchange: RunningFake) -> None:
    fake, me, other = fake_exchange, new_trader(fake_exchange), new_trader(fake_exchange)
    order(fake, other, "SELL", "0.002", "60002.00")

    async def main() -> None:
        api = _api(fake, me)
        connection = await api.create_connection()
        events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        try:
            book = (await connection.depth(symbol="BTCUSDT", limit=5)).data().result
            assert book.last_update_id == depth(fake)["lastUpdateId"] and Decimal(book.asks[0][0]) == Decimal("60002")
            subscribed = await connection.user_data_stream_subscribe_signature()
            subscribed.stream.on("message", lambda m: events.put_nowait(_plain(m)))
            placed = (await connection.order_place(symbol="BTCUSDT", side=OrderPlaceSideEnum.BUY,
                                                   type=OrderPlaceTypeEnum.MARKET, quantity=0.002)).data().result
            assert placed.status == "FILLED" and Decimal(placed.fills[0].price) == Decimal("60002")
            report = await _next(events, lambda e: e.get("x") == "TRADE")  # the model drops "e"
            assert (report["i"], report["n"], report["N"]) == (placed.order_id, placed.fills[0].commission, "BTC")
            position = await _next(events, lambda e: "B" in e and "u" in e)
            assert {b["a"] for b in position["B"]} == {"BTC", "USDT"}
            status = (await connection.order_status(symbol="BTCUSDT", order_id=placed.order_id)).data().result
            assert status.status == "FILLED"
            balances = (await connection.account_status(omit_zero_balances=True)).data().result.balances
            assert Decimal(next(b.free for b in balances if b.asset == "BTC")) == Decimal("1.001998")
        finally:
            await connection.close_connection()

    _run(main)


def test_websocket_api_session_logged_on_with_an_ed25519_key(fake_exchange: RunningFake) -> None:
    fake, me = fake_exchange, new_trader(fake_exchange, ed=True)

    async def main() -> None:
        api = _api(fake, me)
        connection = await api.create_connection()
        events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        try:
            logon = (await connection.session_logon()).data().result
            assert logon.api_key == me.api_key
            subscribed = await connection.user_data_stream_subscribe()  # needs the logged-on session
            subscribed.stream.on("message", lambda m: events.put_nowait(_plain(m)))
            placed = (await connection.order_place(symbol="BTCUSDT", side=OrderPlaceSideEnum.SELL,
                                                   type=OrderPlaceTypeEnum.MARKET, quantity=0.001)).data().result
            report = await _next(events, lambda e: e.get("X") == "FILLED")
            assert report["i"] == placed.order_id and report["N"] == "USDT"
            assert (await connection.session_status()).data().result.user_data_stream is True
        finally:
            await connection.close_connection()

    _run(main)


def test_websocket_streams_client_gets_every_other_documented_stream(fake_exchange: RunningFake) -> None:
    """Each stream name the SDK builds is accepted and each payload parses into the SDK's own model."""
    fake, other = fake_exchange, new_trader(fake_exchange)
    fake.streams.period_s = 0.1
    order(fake, other, "BUY", "0.001")  # something traded, so the all-market arrays list BTCUSDT

    async def main() -> None:
        client = Spot(config_ws_streams=ConfigurationWebSocketStreams(stream_url=fake.stream_url, reconnect_attempts=1))
        connection = await client.websocket_streams.create_connection()
        seen: dict[str, Any] = {}
        try:
            handles = {
                "rolling": await connection.rolling_window_ticker(symbol="btcusdt", window_size="1h"),
                "all_rolling": await connection.all_market_rolling_window_ticker(window_size="4h"),
                "all_mini": await connection.all_mini_ticker(),
                "kline_offset": await connection.kline_offset(symbol="btcusdt", interval="1d"),
                "reference": await connection.reference_price(symbol="btcusdt"),
                "partial": await connection.partial_book_depth(symbol="btcusdt", levels="5"),
                "avg": await connection.avg_price(symbol="btcusdt"),
            }  # the SDK paces its SUBSCRIBEs 0.5 s apart (the 5-a-second rule): a few streams, not all
            done = asyncio.Event()
            for name, handle in handles.items():
                def keep(message: Any, name: str = name) -> None:
                    seen.setdefault(name, message)
                    if len(seen) == len(handles):
                        done.set()
                handle.on("message", keep)
            await asyncio.wait_for(done.wait(), STEP_TIMEOUT_S)
        finally:
            await connection.close_connection()
        assert _plain(seen["partial"])["bids"][0] == ["59970.00000000", "0.50000000"]
        assert _plain(seen["kline_offset"])["k"]["i"] == "1d"
        assert _plain(seen["rolling"])["e"] == "1hTicker"

    _run(main)
    assert fake.streams.limit_violations == 0
