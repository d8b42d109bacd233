"""ReconnectingSocket against the fake's WebSocket side: stalls, renewals, odd pings, pacing, failures."""

from __future__ import annotations

import logging
from collections import deque
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from binance_spot_mcp.errors import ExchangeError
from binance_spot_mcp.streams.connection import HEALTHY_AFTER_S, ReconnectingSocket, is_server_shutdown
from tests.fake_binance import RunningFake

pytestmark = pytest.mark.anyio
BOUND_S = 10.0
BINANCE_MESSAGES_PER_S = 5  # web-socket-streams.md, "WebSocket Limits": ping and pong frames count
ROOM_FOR_PING_AND_PONG = 2  # our keepalive ping and the pong to Binance's ping may fall in one second


def _recording_sleep(delays: list[float]) -> Any:
    """A ``sleep`` for the socket that records each reconnect delay and returns at once."""

    async def sleep(seconds: float) -> None:
        delays.append(seconds)
        await anyio.lowlevel.checkpoint()

    return sleep


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
    delays: list[float] = []
    socket = _socket(fake_exchange, max_age_s=0.3, sleep=_recording_sleep(delays))
    socket.start()
    try:
        await _wait(fake_exchange, lambda: fake_exchange.streams.connections_opened["market"] >= 3)
        await _wait(fake_exchange, lambda: fake_exchange.streams.market_streams() == ["btcusdt@trade"])
        assert socket.connects >= 3
        assert delays == []  # renewals follow at once, though no connection lived long enough to count as healthy
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


class _RecordingDeque(deque):
    """The socket's record of its own send times, kept whole for the test to read."""

    def __init__(self) -> None:
        super().__init__()
        self.appended: list[float] = []

    def append(self, value: float) -> None:
        self.appended.append(value)
        super().append(value)


async def test_outgoing_messages_are_paced_below_the_limit(fake_exchange: RunningFake) -> None:
    # the fake counts only JSON messages, so it allows what is left of Binance's limit once a ping
    # and a pong are sent in the same second: a client pacing JSON faster is closed and fails here.
    # The fake counts over 0.8 s rather than 1 s, so that a message delivered up to 0.2 s late (the
    # fake shares this process and the CPU with parallel tests) is not mistaken for a burst; a
    # client sending four a second, in a burst or evenly (0, 0.25, 0.5, 0.75 s), is still caught.
    fake_exchange.streams.max_messages_per_s = BINANCE_MESSAGES_PER_S - ROOM_FOR_PING_AND_PONG
    fake_exchange.streams.message_window_s = 0.8
    socket = _socket(fake_exchange)
    sent = _RecordingDeque()
    socket._sent = sent  # the socket's own clock decides its pacing: read it there, exactly
    socket.start()
    try:
        assert await socket.wait_ready(BOUND_S)
        replies = [await socket.request({"method": "LIST_SUBSCRIPTIONS"}) for _ in range(9)]
        assert all(r["result"] == ["btcusdt@trade"] for r in replies)
        assert fake_exchange.streams.limit_violations == 0 and socket.connects == 1
        # and by the socket's own clock, no full second ever holds more than 3 (a rate of 3.5 or
        # 3.75 a second, which the fake's narrower window would let through, fails here)
        allowed = BINANCE_MESSAGES_PER_S - ROOM_FOR_PING_AND_PONG
        times = sent.appended
        assert len(times) == 10  # the SUBSCRIBE, then the nine requests
        assert all(later - earlier >= 1.0 - 1e-3 for earlier, later in zip(times, times[allowed:]))
    finally:
        await socket.aclose()


async def test_backoff_grows_while_connections_close_at_once_and_resets_once_one_is_healthy(
    fake_exchange: RunningFake,
) -> None:
    streams = fake_exchange.streams
    now = [0.0]
    delays: list[float] = []
    streams.close_new_connections(4)  # each one is accepted, then closed at once
    socket = _socket(fake_exchange, clock=lambda: now[0], sleep=_recording_sleep(delays))
    socket.start()
    try:
        await _wait(fake_exchange, lambda: streams.connections_opened["market"] == 5
                    and streams.market_streams() == ["btcusdt@trade"])
        assert await socket.wait_ready(BOUND_S)
        # after the four closes: no wait, then 0.25, 1 and 2 s (each within 20 % jitter)
        assert len(delays) == 3 and 0.2 <= delays[0] < delays[1] < delays[2]
        now[0] += HEALTHY_AFTER_S  # the fifth connection has now proved healthy
        streams.drop("market")
        await _wait(fake_exchange, lambda: streams.connections_opened["market"] == 6
                    and streams.market_streams() == ["btcusdt@trade"])
        assert len(delays) == 3  # it was replaced at once, with no delay
    finally:
        await socket.aclose()


async def test_a_failing_on_open_counts_as_a_failed_connection_and_is_retried(
    fake_exchange: RunningFake, caplog: Any
) -> None:
    caplog.set_level(logging.INFO, logger="binance_spot_mcp.streams.connection")
    streams = fake_exchange.streams
    failures = [RuntimeError("secret-in-the-text"), ExchangeError(status=400, code=2, msg="Invalid request: refused")]
    delays: list[float] = []

    async def on_open() -> None:
        if failures:
            raise failures.pop(0)

    socket = ReconnectingSocket(f"{fake_exchange.stream_url}/stream", on_message=lambda m: None, on_open=on_open,
                                sleep=_recording_sleep(delays))
    socket.start()
    try:
        await _wait(fake_exchange, lambda: streams.connections_opened["market"] == 3)
        assert await socket.wait_ready(BOUND_S)
        # each failed set-up closed its connection; the second failure was followed by a delay
        assert streams.market_connections() == 1 and socket.connects == 3 and socket.drops == 0
        assert len(delays) == 1 and socket.last_error == ""
        logged = "\n".join(r.getMessage() for r in caplog.records)
        assert "RuntimeError" in logged and "secret-in-the-text" not in logged
        assert f"{socket.url}: setting up the connection failed: ExchangeError (code 2): Invalid request: refused" in logged
    finally:
        await socket.aclose()


async def test_start_replaces_a_connection_loop_that_has_ended(fake_exchange: RunningFake) -> None:
    ended = anyio.Event()

    async def sleep_that_fails_once(seconds: float) -> None:
        if not ended.is_set():
            ended.set()
            raise RuntimeError("a defect in the loop")

    fake_exchange.streams.close_new_connections(2)  # the second close leads to a delay, and the failing sleep
    socket = _socket(fake_exchange, sleep=sleep_that_fails_once)
    socket.start()
    try:
        with anyio.fail_after(BOUND_S):
            await ended.wait()
        assert not socket.running
        socket.start()
        assert await socket.wait_ready(BOUND_S)
        assert fake_exchange.streams.market_streams() == ["btcusdt@trade"]
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
