"""Subscription buffers: cursors, state snapshots, bounded rings, drops, gaps; stream names; URLs."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from binance_spot_mcp.config import (
    OFFICIAL_STREAM_URLS,
    OFFICIAL_WS_API_URLS,
    WS_API_PATH,
    Settings,
    load_settings,
    ws_url_problem,
)
from binance_spot_mcp.errors import ConfigError, ToolInputError
from binance_spot_mcp.streams.buffers import Subscription, is_state_stream, market_stream_name, user_event_names
from binance_spot_mcp.streams.hub import StreamHub

pytestmark = pytest.mark.anyio


def _trade(n: int) -> dict[str, int]:
    return {"e": "trade", "t": n}  # type: ignore[dict-item]


async def test_cursor_returns_exactly_what_is_newer() -> None:
    sub = Subscription("s1", ("btcusdt@trade",), "testnet")
    for n in range(3):
        sub.push("btcusdt@trade", _trade(n))
    first = await sub.read(None, wait_s=0, limit=50)
    assert [e["data"]["t"] for e in first["events"]] == [0, 1, 2] and first["next_cursor"] == 3
    sub.push("btcusdt@trade", _trade(3))
    second = await sub.read(first["next_cursor"], wait_s=0, limit=50)
    assert [e["seq"] for e in second["events"]] == [4]
    with pytest.raises(ToolInputError):
        await sub.read(99, wait_s=0, limit=50)


async def test_limit_pages_through_the_buffer() -> None:
    sub = Subscription("s1", ("btcusdt@trade",), "testnet")
    for n in range(5):
        sub.push("btcusdt@trade", _trade(n))
    page = await sub.read(0, wait_s=0, limit=2)
    assert [e["seq"] for e in page["events"]] == [1, 2] and page["more"] is True and page["next_cursor"] == 2
    rest = await sub.read(page["next_cursor"], wait_s=0, limit=10)
    assert [e["seq"] for e in rest["events"]] == [3, 4, 5] and "more" not in rest


async def test_a_size_budget_moves_the_cursor_only_past_what_it_returns() -> None:
    """A read that would not fit the result cap returns fewer updates and a cursor at the last one
    returned, so reading on from it loses nothing (before, the result was cut after the cursor had
    moved past everything, and the cut events were gone)."""
    sub = Subscription("s1", ("btcusdt@trade", "btcusdt@bookTicker"), "testnet", capacity=1000)
    for n in range(300):
        sub.push("btcusdt@trade", {"e": "trade", "t": n, "pad": "x" * 500})
        if n % 100 == 99:
            sub.push("btcusdt@bookTicker", {"u": n, "b": "1.0"})
    seen: list[int] = []
    tickers: list[int] = []
    cursor, reads = 0, 0
    while True:
        got = await sub.read(cursor, wait_s=0, limit=500, budget_chars=20_000)
        reads += 1
        assert len(json.dumps(got["events"])) <= 20_000
        assert all(e["seq"] <= got["next_cursor"] for e in got["events"])
        seen += [e["data"]["t"] for e in got["events"]]
        tickers += [data["u"] for data in got.get("latest", {}).values()]
        cursor = got["next_cursor"]
        if not got.get("more"):
            break
    assert seen == list(range(300)) and reads > 5
    assert tickers == [299]  # a snapshot is the latest only, and it comes with the read that reaches it
    assert cursor == sub.seq


async def test_one_update_larger_than_the_budget_is_still_returned() -> None:
    sub = Subscription("s1", ("btcusdt@trade",), "testnet")
    sub.push("btcusdt@trade", {"t": 1, "pad": "x" * 5000})
    sub.push("btcusdt@trade", {"t": 2})
    got = await sub.read(0, wait_s=0, limit=50, budget_chars=1000)
    assert [e["data"]["t"] for e in got["events"]] == [1] and got["next_cursor"] == 1 and got["more"] is True
    rest = await sub.read(1, wait_s=0, limit=50, budget_chars=1000)
    assert [e["data"]["t"] for e in rest["events"]] == [2] and "more" not in rest


async def test_state_streams_keep_only_the_latest_snapshot() -> None:
    sub = Subscription("s1", ("btcusdt@bookTicker", "btcusdt@trade"), "testnet", capacity=10)
    for n in range(100):
        sub.push("btcusdt@bookTicker", {"b": str(n)})
    read = await sub.read(0, wait_s=0, limit=50)
    assert read["events"] == [] and read["latest"] == {"btcusdt@bookTicker": {"b": "99"}}
    assert len(sub.ring) == 0 and "dropped" not in read
    quiet = await sub.read(read["next_cursor"], wait_s=0, limit=50)
    assert "latest" not in quiet


async def test_ring_is_bounded_and_reports_unread_drops_once() -> None:
    sub = Subscription("s1", ("btcusdt@trade",), "testnet", capacity=10)
    for n in range(25):
        sub.push("btcusdt@trade", _trade(n))
    assert len(sub.ring) == 10 and sub.dropped_total == 15
    read = await sub.read(0, wait_s=0, limit=50)
    assert read["dropped"] == 15 and read["events"][0]["seq"] == 16
    for n in range(5):
        sub.push("btcusdt@trade", _trade(n))
    after = await sub.read(read["next_cursor"], wait_s=0, limit=50)
    assert "dropped" not in after  # the 5 new ones pushed out events already read
    assert sub.dropped_total == 20


async def test_a_lost_connection_is_reported_and_its_return_ends_a_long_poll() -> None:
    sub = Subscription("s1", ("btcusdt@trade",), "testnet")
    sub.lost()
    while_down = await sub.read(0, wait_s=0.01, limit=50)  # not woken by the loss: it times out
    assert while_down["connection"].startswith("lost") and "reconnected" not in while_down
    assert while_down.get("timed_out") is True
    waiting = asyncio.ensure_future(sub.read(0, wait_s=30, limit=50))
    await asyncio.sleep(0)
    sub.gap()
    read = await asyncio.wait_for(waiting, 5)
    assert read["reconnected"] == 1 and read["events"] == [] and "connection" not in read


async def test_a_close_ends_a_long_poll_and_is_reported() -> None:
    sub = Subscription("s1", ("btcusdt@trade",), "testnet")
    sub.close("expired (idle)")
    assert (await sub.read(0, wait_s=30, limit=50))["closed"] == "expired (idle)"


def test_stream_names_are_checked_and_symbols_lowercased() -> None:
    assert market_stream_name("BTCUSDT@trade") == "btcusdt@trade"
    assert market_stream_name("ethbtc@kline_1M") == "ethbtc@kline_1M"
    assert market_stream_name("bnbusdt@depth10@100ms") == "bnbusdt@depth10@100ms"
    for bad in ("btcusdt", "btcusdt@depth7", "btcusdt@kline_2m", "!ticker@arr", "btc usdt@trade", "@trade"):
        with pytest.raises(ToolInputError):
            market_stream_name(bad)
    assert is_state_stream("btcusdt@depth5") and is_state_stream("btcusdt@kline_1m")
    assert not is_state_stream("btcusdt@aggTrade") and not is_state_stream("executionReport")
    assert user_event_names(["executionReport", "executionReport"]) == ("executionReport",)
    with pytest.raises(ToolInputError):
        user_event_names(["trade"])


def test_stream_urls_follow_the_base_url_rules() -> None:
    for url in OFFICIAL_STREAM_URLS.values():
        assert ws_url_problem(url) is None
    for url in OFFICIAL_WS_API_URLS.values():
        assert ws_url_problem(url, path=WS_API_PATH) is None
    assert ws_url_problem("ws://127.0.0.1:9000") is None
    assert ws_url_problem("ws://[::1]:9000/ws-api/v3", path=WS_API_PATH) is None
    assert ws_url_problem("ws://stream.binance.com:9443")  # Binance only over wss
    assert ws_url_problem("wss://evil.example/ws-api/v3", path=WS_API_PATH)
    assert ws_url_problem("ws://127.0.0.1:9000/other", path=WS_API_PATH)
    settings = load_settings(environ={"BINANCE_SPOT_MCP_DEMO_STREAM_URL": "ws://127.0.0.1:7/",
                                      "BINANCE_SPOT_MCP_DEMO_WS_API_URL": "ws://localhost:7/ws-api/v3",
                                      "BINANCE_SPOT_MCP_STREAM_IDLE_SECONDS": "2.5"})
    assert settings.stream_urls["demo"] == "ws://127.0.0.1:7"
    assert settings.ws_api_urls["demo"] == "ws://localhost:7/ws-api/v3"
    assert settings.stream_urls["mainnet"] == OFFICIAL_STREAM_URLS["mainnet"] and settings.stream_idle_s == 2.5
    for env in ({"BINANCE_SPOT_MCP_TESTNET_WS_API_URL": "wss://example.com/ws-api/v3"},
                {"BINANCE_SPOT_MCP_MAINNET_STREAM_URL": "http://127.0.0.1:1"},
                {"BINANCE_SPOT_MCP_STREAM_IDLE_SECONDS": "0"}):
        with pytest.raises(ConfigError):
            load_settings(environ=env)


async def test_a_waiting_reader_keeps_its_subscription_from_expiring() -> None:
    hub = StreamHub(Settings(tools_file=Path("TOOLS.md"), stream_idle_s=0.1), client=None)  # type: ignore[arg-type]
    sub = Subscription("s1", ("btcusdt@trade",), "testnet")
    hub._subscriptions[sub.id] = sub  # registered without a connection: only expiry is exercised here
    reading = asyncio.ensure_future(sub.read(0, wait_s=30, limit=10))
    await asyncio.sleep(0)
    sub.last_used -= 1.0  # long idle by the clock, but a read is waiting
    assert await hub.sweep() == []
    sub.push("btcusdt@trade", _trade(1))
    assert (await reading)["events"][0]["seq"] == 1
    sub.last_used -= 1.0
    assert await hub.sweep() == ["s1"] and sub.closed_reason == "expired after 0.1 s without a read"
    with pytest.raises(ToolInputError, match=r"subscription 's1' is closed: expired after 0\.1 s without a read"):
        hub.get("s1")
    with pytest.raises(ToolInputError, match="no open subscription 's9'"):
        hub.get("s9")


async def test_closed_ids_are_remembered_within_a_bound() -> None:
    hub = StreamHub(Settings(tools_file=Path("TOOLS.md")), client=None)  # type: ignore[arg-type]
    for n in range(1, 502):
        hub._subscriptions[f"s{n}"] = Subscription(f"s{n}", ("btcusdt@trade",), "testnet")  # no connection needed
        await hub.unsubscribe(f"s{n}")
    assert len(hub._closed) == 500
    with pytest.raises(ToolInputError, match="no open subscription 's1'"):
        hub.get("s1")
    with pytest.raises(ToolInputError, match="'s501' is closed: unsubscribed"):
        hub.get("s501")
