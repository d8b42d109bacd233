"""ReconnectingSocket against the fake's WebSocket side: stalls, renewals, odd pings, pacing, failures."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from binance_spot_mcp.ws_connection import ReconnectingSocket, is_server_shutdown
from tests.fake_binance import RunningFake

pytestmark = pytest.mark.anyio
BOUND_S = 10.0


def _socket(fake: RunningFake, received: list[Any] | None = None, **options: Any) -> ReconnectingSocket:
    sink = received if received is not None else []

    async def on_open() -> None:
        await socket.request({"method": "SUBSCRIBE", "params": ["btcusdt@trade"]})

    socket = ReconnectingSocket(f"{fake.stream_url}/stream", on_message=sink.append, on_open=on_open, **options)
    return socket


async def _wait(fake: RunningFake, predicate: Any) -> None:
    assert await anyio.to_thread.run_sync(fake.streams.wait_until, predicate, BOUND_S)


async def test_a_stalled_connection_is_detected_by_keepalive_and_replaced(fake_exchange: RunningFake) -> None:
    socket = _socket(fake_exchange, ping_interval_s=0.2, ping_timeout_s=0.3)
    socket.start()
    try:
        assert await socket.wait_ready(BOUND_S)
        fake_exchange.streams.stall(3.0)
        # the stalled connection is given up and a new one subscribes again
        await _wait(fake_exchange, lambda: fake_exchange.streams.connections_opened["market"] == 2
                    and fake_exchange.streams.market_connections() == 1
                    and fake_exchange.streams.market_streams() == ["btcusdt@trade"])
        assert await socket.wait_ready(BOUND_S)
        assert socket.connects == 2 and socket.drops == 1
    finally:
        await socket.aclose()


async def test_the_connection_is_renewed_before_its_age_limit_and_resubscribed(fake_exchange: RunningFake) -> None:
    socket = _socket(fake_exchange, max_age_s=0.3)
    socket.start()
    try:
        await _wait(fake_exchange, lambda: fake_exchange.streams.connections_opened["market"] >= 3)
        await _wait(fake_exchange, lambda: fake_exchange.streams.market_streams() == ["btcusdt@trade"])
        assert socket.connects >= 3
    finally:
        await socket.aclose()
    await _wait(fake_exchange, lambda: fake_exchange.streams.market_connections() == 0)


async def test_odd_pings_and_pongs_do_not_disturb_the_connection(fake_exchange: RunningFake) -> None:
    socket = _socket(fake_exchange)
    socket.start()
    try:
        assert await socket.wait_ready(BOUND_S)
        fake_exchange.streams.odd_pings()
        fake_exchange.streams.odd_pings()
        reply = await socket.request({"method": "LIST_SUBSCRIPTIONS"})
        assert reply["result"] == ["btcusdt@trade"]
        assert socket.connects == 1 and socket.drops == 0
    finally:
        await socket.aclose()


async def test_outgoing_messages_are_paced_below_the_limit(fake_exchange: RunningFake) -> None:
    socket = _socket(fake_exchange)
    socket.start()
    try:
        assert await socket.wait_ready(BOUND_S)
        replies = [await socket.request({"method": "LIST_SUBSCRIPTIONS"}) for _ in range(9)]
        assert all(r["result"] == ["btcusdt@trade"] for r in replies)
        assert fake_exchange.streams.limit_violations == 0 and socket.connects == 1
    finally:
        await socket.aclose()


async def test_a_failed_connect_is_reported_at_once_not_after_the_timeout(fake_exchange: RunningFake) -> None:
    socket = ReconnectingSocket("ws://127.0.0.1:9/stream", on_message=lambda m: None)
    socket.start()
    try:
        with anyio.fail_after(BOUND_S / 2):
            assert await socket.wait_ready(60.0) is False
        assert socket.last_error
    finally:
        await socket.aclose()


def test_server_shutdown_is_recognised_in_every_envelope() -> None:
    event = {"e": "serverShutdown", "E": 1}
    assert is_server_shutdown(event)
    assert is_server_shutdown({"stream": "!serverShutdown", "data": event})
    assert is_server_shutdown({"event": event})
    assert not is_server_shutdown({"stream": "btcusdt@trade", "data": {"e": "trade"}})
    assert not is_server_shutdown({"subscriptionId": 0, "event": {"e": "executionReport"}})
