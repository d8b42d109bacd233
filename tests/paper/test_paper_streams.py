"""Stream tools for paper accounts, end to end: a real MCP client, the real server, the fake exchange
playing the live market. A paper account's executionReport / outboundAccountPosition events come
from the paper desk on this computer (nothing signed, no WebSocket API connection); a resting
order's fill arrives as an event with no further call, because the desk catches up while the
subscription is open; ``wait_for_order`` follows a paper order to its end; a paper account's market
streams use the paper stream URL."""

from __future__ import annotations

import dataclasses
import time
from decimal import Decimal as D
from typing import Any

import anyio
import pytest
from binance_spot_mcp.accounts.reading import Account, paper_account
from binance_spot_mcp.config import Settings, load_settings
from binance_spot_mcp.errors import PolicyError
from binance_spot_mcp.exchange.signing import HmacSigner
from binance_spot_mcp.paper.events import EventHub
from binance_spot_mcp.server import Runtime, build_server
from binance_spot_mcp.streams.hub import StreamHub
from binance_spot_mcp.streams.paper import PaperFeeds
from binance_spot_mcp.streams.user import OrderWatch
from mcp import Client

from tests.e2e_support import ERAS, memory_client, stream_environ
from tests.paper.paper_support import Trader, result, signed_requests, write_paper_tools

pytestmark = pytest.mark.anyio

BOUND_S = 15.0  # every wait in these tests is bounded by this
RICH = "- Paper Balances: 100000 USDT, 1 BTC\n"
# The fake's seeded BTCUSDT book: asks 60030 x0.5, 60060 x1, ...; bids 59970 x0.5, 59940 x1, ...


def _tools(tmp_path: Any, fake: Any) -> Any:
    return write_paper_tools(tmp_path, fake.base_url, f"### main\n- Environment: paper\n{RICH}")


async def _call(client: Any, tool: str, args: dict[str, Any]) -> Any:
    if tool == "read_stream":
        args = {"raw": True, **args}  # these tests check Binance's own keys (labelled events: test_labelled_events)
    reply = await client.call_tool(tool, args)
    assert not reply.is_error, reply.content[0].text
    return result(reply)


async def _read_until(client: Any, sid: str, enough: Any, cursor: int = 0) -> list[dict[str, Any]]:
    """Events of ``sid`` (their data) after ``cursor`` until ``enough(events)`` holds; bounded, no
    other tool call."""
    events: list[dict[str, Any]] = []
    with anyio.fail_after(BOUND_S):
        while not enough(events):
            read = await _call(client, "read_stream", {"subscription": sid, "cursor": cursor, "wait_seconds": 5})
            assert "stream_lost" not in read and not read.get("dropped"), read
            events += [e["data"] for e in read["events"]]
            cursor = read["next_cursor"]
    return events


def _no_network_for_events(fake: Any, *traders: Trader) -> None:
    """No WebSocket API connection was ever opened, and every signed request is a Trader's."""
    assert fake.streams.connections_opened["api"] == 0 and fake.streams.api_connections() == 0
    assert {r.headers.get("x-mbx-apikey") for r in signed_requests(fake)} <= {t.api_key for t in traders}


def _reports(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e["e"] == "executionReport"]


@pytest.mark.parametrize("mode", ERAS)
async def test_a_paper_market_orders_events_arrive_through_subscribe_stream(tmp_path, fake_exchange, mode):
    env = stream_environ(fake_exchange)
    async with memory_client(_tools(tmp_path, fake_exchange), mode, fake_exchange.base_url, extra_env=env) as client:
        sub = await _call(client, "subscribe_stream", {"account": "main"})
        assert sub["streams"] == ["executionReport", "listStatus", "outboundAccountPosition", "balanceUpdate"]
        placed = await _call(client, "place_order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET",
                                                     "quantity": "0.7", "newOrderRespType": "FULL"})
        assert placed["status"] == "FILLED" and len(placed["fills"]) == 2
        events = await _read_until(client, sub["subscription"],
                                   lambda ev: any(e["e"] == "outboundAccountPosition" for e in ev))
        trades = await _call(client, "get_my_trades", {"symbol": "BTCUSDT"})
        listed = await _call(client, "list_streams", {})
    reports = _reports(events)
    assert [(r["x"], r["X"]) for r in reports] == [("NEW", "NEW"), ("TRADE", "PARTIALLY_FILLED"), ("TRADE", "FILLED")]
    assert all(r["i"] == placed["orderId"] and r["c"] == placed["clientOrderId"] and r["s"] == "BTCUSDT" for r in reports)
    fills = [(r["L"], r["l"], r["n"], r["N"], r["t"], r["I"], r["m"]) for r in reports[1:]]
    assert fills == [(t["price"], t["qty"], t["commission"], t["commissionAsset"], t["id"], t["id"], False) for t in trades]
    assert [(D(r["L"]), D(r["l"]), D(r["n"])) for r in reports[1:]] == [
        (D("60030"), D("0.5"), D("0.0005")), (D("60060"), D("0.2"), D("0.0002"))]
    assert [t["id"] for t in trades] == [f["tradeId"] for f in placed["fills"]]
    assert reports[-1]["z"] == "0.70000000" and D(reports[-1]["Z"]) == D("42027")
    position = next(e for e in events if e["e"] == "outboundAccountPosition")
    assert {b["a"]: (D(b["f"]), D(b["l"])) for b in position["B"]} == {
        "BTC": (D("1.6993"), D(0)), "USDT": (D("100000") - D("42027"), D(0))}
    assert events.index(position) > events.index(reports[-1])
    paper_rows = [c for c in listed["connections"] if "paper_events" in c]
    assert paper_rows == [{"paper_events": ["main"], "source": "the paper desk on this computer", "open": True}]
    _no_network_for_events(fake_exchange)


async def test_a_resting_paper_limits_fill_arrives_as_an_event_without_another_call(tmp_path, fake_exchange):
    seller = Trader(fake_exchange)
    env = stream_environ(fake_exchange)
    async with memory_client(_tools(tmp_path, fake_exchange), "legacy", fake_exchange.base_url, extra_env=env) as client:
        sub = await _call(client, "subscribe_stream", {"account": "main", "streams": ["executionReport",
                                                                                      "outboundAccountPosition"]})
        placed = await _call(client, "place_order", {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
                                                     "timeInForce": "GTC", "quantity": "0.3", "price": "59970"})
        assert placed["status"] == "NEW"
        first = await _read_until(client, sub["subscription"], lambda ev: len(ev) >= 2)
        assert [(e["e"], e.get("x")) for e in first] == [("executionReport", "NEW"), ("outboundAccountPosition", None)]
        with fake_exchange.exchange.lock:
            asked = len(fake_exchange.exchange.requests)
        # the market trades through the order's price: 0.5 ahead of it at 59970, then 59940 fills it
        seller.order(symbol="BTCUSDT", side="SELL", type="MARKET", quantity="1")
        events = await _read_until(client, sub["subscription"],
                                   lambda ev: any(e["e"] == "outboundAccountPosition" for e in ev), cursor=len(first))
        with fake_exchange.exchange.lock:  # the desk read the market's trades by itself, unsigned
            since = [r.path for r in fake_exchange.exchange.requests[asked:]]
        assert "/api/v3/aggTrades" in since and "/api/v3/order" in since
        trades = await _call(client, "get_my_trades", {"symbol": "BTCUSDT"})
    fill = _reports(events)
    assert [(r["x"], r["X"], r["l"], r["m"], r["i"]) for r in fill] == [
        ("TRADE", "FILLED", "0.30000000", True, placed["orderId"])]
    assert (fill[0]["n"], fill[0]["N"], fill[0]["t"], fill[0]["I"]) == (
        trades[0]["commission"], "BTC", trades[0]["id"], trades[0]["id"])
    assert D(fill[0]["n"]) == D("0.0003")  # the maker rate
    position = next(e for e in events if e["e"] == "outboundAccountPosition")
    assert {b["a"]: (D(b["f"]), D(b["l"])) for b in position["B"]} == {
        "BTC": (D("1.2997"), D(0)), "USDT": (D("100000") - D("17991"), D(0))}
    assert not [p for p in since if p != "/api/v3/order" and p not in (
        "/api/v3/aggTrades", "/api/v3/depth", "/api/v3/exchangeInfo", "/api/v3/trades")]
    _no_network_for_events(fake_exchange, seller)


async def test_the_catch_up_stops_when_the_subscription_closes(tmp_path, fake_exchange):
    env = stream_environ(fake_exchange)
    async with memory_client(_tools(tmp_path, fake_exchange), "legacy", fake_exchange.base_url, extra_env=env,
                             on_runtime=lambda rt: setattr(rt.stream_tools.hub, "paper_catch_up_s", 0.05)) as client:
        sub = await _call(client, "subscribe_stream", {"account": "main"})
        await _call(client, "place_order", {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
                                            "timeInForce": "GTC", "quantity": "0.3", "price": "59970"})

        def agg_reads() -> int:
            with fake_exchange.exchange.lock:
                return sum(1 for r in fake_exchange.exchange.requests if r.path == "/api/v3/aggTrades")

        with anyio.fail_after(BOUND_S):
            while agg_reads() < 3:  # catching up on its own, every 50 ms here
                await anyio.sleep(0.02)
        await _call(client, "unsubscribe_stream", {"subscription": sub["subscription"]})
        stopped = agg_reads()
        with anyio.fail_after(BOUND_S):
            for _ in range(10):  # ten catch-up periods pass with nobody listening
                await anyio.sleep(0.05)
        assert agg_reads() <= stopped + 1  # at most the one already under way
    _no_network_for_events(fake_exchange)


async def test_wait_for_order_follows_a_paper_order_to_its_fill(tmp_path, fake_exchange):
    seller = Trader(fake_exchange)
    env = stream_environ(fake_exchange)
    async with memory_client(_tools(tmp_path, fake_exchange), "legacy", fake_exchange.base_url, extra_env=env) as client:
        bought = await _call(client, "place_order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET",
                                                     "quantity": "0.1"})
        done = await _call(client, "wait_for_order", {"symbol": "BTCUSDT", "orderId": bought["orderId"],
                                                      "wait_seconds": 5})
        assert (done["reached"], done["source"], done["order"]["status"]) == (True, "get_order", "FILLED")
        assert "stream_unavailable" not in done

        placed = await _call(client, "place_order", {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
                                                     "timeInForce": "GTC", "quantity": "0.3", "price": "59970"})
        waited: dict[str, Any] = {}

        async def wait() -> None:
            waited["reply"] = await _call(client, "wait_for_order", {
                "symbol": "BTCUSDT", "orderId": placed["orderId"], "wait_seconds": 40})

        with anyio.fail_after(BOUND_S):
            async with anyio.create_task_group() as tg:
                tg.start_soon(wait)
                await anyio.sleep(0.3)  # let the wait start; the fill must come to it, not to this test
                await anyio.to_thread.run_sync(lambda: seller.order(symbol="BTCUSDT", side="SELL", type="MARKET",
                                                                    quantity="1"))
        reply = waited["reply"]
    assert reply["reached"] is True and reply["order"]["status"] == "FILLED"
    assert reply["order"]["executedQty"] == "0.30000000" and reply["order"]["orderId"] == placed["orderId"]
    assert reply["source"] == "user_data_stream" and reply["confirmed_by"] == "get_order"
    assert reply["waited_seconds"] < 10 and "stream_unavailable" not in reply
    _no_network_for_events(fake_exchange, seller)


async def test_a_paper_accounts_market_streams_use_the_paper_stream_url(tmp_path, fake_exchange):
    seller = Trader(fake_exchange)
    env = {**stream_environ(fake_exchange), "BINANCE_SPOT_MCP_MAINNET_STREAM_URL": "ws://127.0.0.1:9",
           "BINANCE_SPOT_MCP_PAPER_STREAM_URL": fake_exchange.stream_url}
    async with memory_client(_tools(tmp_path, fake_exchange), "legacy", fake_exchange.base_url, extra_env=env) as client:
        sub = await _call(client, "subscribe_stream", {"account": "main", "streams": ["BTCUSDT@trade"]})
        assert sub["streams"] == ["btcusdt@trade"]
        assert fake_exchange.streams.market_streams() == ["btcusdt@trade"]
        traded = seller.order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.1")
        events = await _read_until(client, sub["subscription"], lambda ev: bool(ev))
        listed = await _call(client, "list_streams", {})
    assert events[0]["e"] == "trade" and events[0]["t"] == traded["fills"][0]["tradeId"]
    assert listed["subscriptions"][0]["scope"] == "paper market"
    assert [c.get("market") for c in listed["connections"]] == [fake_exchange.stream_url]
    _no_network_for_events(fake_exchange, seller)


async def test_with_no_tools_file_market_streams_and_events_are_the_built_in_paper_accounts(tmp_path, fake_exchange):
    env = {**stream_environ(fake_exchange), "BINANCE_SPOT_MCP_MAINNET_BASE_URL": fake_exchange.base_url,
           "BINANCE_SPOT_MCP_JOURNAL": str(tmp_path / "journal.jsonl")}
    runtime = Runtime(settings=load_settings(environ=env, cwd=tmp_path))  # ./TOOLS.md by default: none there
    try:
        async with Client(build_server(runtime), mode="legacy") as client:
            market = await _call(client, "subscribe_stream", {"streams": ["btcusdt@bookTicker"]})
            events = await _call(client, "subscribe_stream", {"account": "paper"})
            await _call(client, "place_order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.01"})
            seen = await _read_until(client, events["subscription"], lambda ev: len(_reports(ev)) >= 2)
            listed = await _call(client, "list_streams", {})
    finally:
        await runtime.aclose()
    assert [s["scope"] for s in listed["subscriptions"]] == ["paper market", "account paper"]
    assert market["streams"] == ["btcusdt@bookTicker"]
    assert [(r["x"], r["X"]) for r in _reports(seen)] == [("NEW", "NEW"), ("TRADE", "FILLED")]
    _no_network_for_events(fake_exchange)


async def test_an_environment_without_a_websocket_api_or_a_server_without_a_desk_fails_clearly(tmp_path):
    """No code path indexes ``ws_api_urls`` blindly: an account whose environment has no WebSocket
    API is refused by name (never a KeyError), and a paper account is never sent to one."""
    settings = Settings(tools_file=tmp_path / "TOOLS.md", ws_api_urls={"testnet": "ws://127.0.0.1:9/ws-api/v3"})
    hub = StreamHub(settings, client=None)  # type: ignore[arg-type]  # no client: nothing may be sent
    demo = Account(name="d", environment="demo", api_key="K" * 64, signer=HmacSigner("S" * 64),
                   base_url="http://127.0.0.1:1")
    paper = paper_account("p", "http://127.0.0.1:1")
    try:
        with pytest.raises(PolicyError, match=r"account 'd' \(demo\) has no user data stream: there is no WebSocket API"):
            await hub.subscribe_account(demo, ("executionReport",), 10)
        with pytest.raises(PolicyError, match="paper desk"):
            await hub.watch_order(paper, OrderWatch("BTCUSDT", 1, None), timeout_s=1)
        assert not hub.user_ready(demo) and not hub.user_ready(paper)
        assert hub.recent_order(demo, "BTCUSDT", "x") is None and hub.recent_order(paper, "BTCUSDT", "x") is None
        hub.unwatch_order(paper, OrderWatch("BTCUSDT", 1, None))
    finally:
        await hub.aclose()


class _FailingDesk:
    """A desk whose catch-up fails: the periodic catch-up must back off, not hammer the market."""

    def __init__(self, calls: int) -> None:
        self.events = EventHub()
        self.placer = self
        self.times: list[float] = []
        self.enough = anyio.Event()
        self.calls = calls

    async def catch_up(self, account: Any) -> int:
        self.times.append(time.monotonic())
        if len(self.times) >= self.calls:
            self.enough.set()
        raise RuntimeError("the market data source is down")


async def test_a_failing_catch_up_backs_off_and_a_closed_feed_leaves_the_desk(tmp_path):
    desk = _FailingDesk(calls=4)
    feeds = PaperFeeds(lambda: desk, interval_s=0.01)  # type: ignore[arg-type, return-value]
    account = paper_account("p", "http://127.0.0.1:1")
    watch = OrderWatch("BTCUSDT", 1, None)
    await feeds.watch(account, watch)
    assert desk.events.listening("p") and feeds.flowing(account)
    with anyio.fail_after(BOUND_S):
        await desk.enough.wait()
    gaps = [b - a for a, b in zip(desk.times, desk.times[1:])]
    assert [round(g, 3) >= 0.9 * want for g, want in zip(gaps, (0.02, 0.04, 0.08))] == [True] * 3, gaps  # doubling
    desk.events.emit("p", [{"e": "executionReport", "s": "BTCUSDT", "i": 1, "c": "x", "X": "FILLED"}])
    assert watch.events.get_nowait()["X"] == "FILLED"
    feeds.unwatch("p", watch)
    assert not desk.events.listening("p") and not feeds.flowing(account) and feeds.idle
    await feeds.aclose()


def _fast_lookups_no_read_retries(runtime: Runtime) -> None:
    runtime.sender.settings = dataclasses.replace(runtime.settings, outcome_lookup_delays_s=(0.01, 0.02, 0.03))
    runtime.client.read_retry_delays_s = ()


async def test_a_paper_order_whose_market_read_was_lost_asks_the_desk_not_a_websocket(tmp_path, fake_exchange):
    """The lost-reply path asks the stream tools what the account's events saw; for a paper account
    that is the desk's feed (none open here), never a WebSocket API look-up that does not exist."""
    fake_exchange.exchange.inject("drop_after", path="/api/v3/depth", method="GET")
    async with memory_client(_tools(tmp_path, fake_exchange), "legacy", fake_exchange.base_url,
                             extra_env=stream_environ(fake_exchange), on_runtime=_fast_lookups_no_read_retries) as client:
        reply = await client.call_tool("place_order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET",
                                                       "quantity": "0.1"})
        body = result(reply)
        orders = await _call(client, "get_all_orders", {"symbol": "BTCUSDT"})
    assert reply.is_error and body["message"].startswith("Outcome: not placed"), body
    assert orders == []
    _no_network_for_events(fake_exchange)


async def test_a_paper_cancel_arrives_as_a_canceled_report_and_the_freed_balance(tmp_path, fake_exchange):
    async with memory_client(_tools(tmp_path, fake_exchange), "legacy", fake_exchange.base_url,
                             extra_env=stream_environ(fake_exchange)) as client:
        sub = await _call(client, "subscribe_stream", {"account": "main", "streams": ["executionReport",
                                                                                      "outboundAccountPosition"]})
        placed = await _call(client, "place_order", {"symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT",
                                                     "timeInForce": "GTC", "quantity": "0.4", "price": "61000"})
        await _call(client, "cancel_order", {"symbol": "BTCUSDT", "orderId": placed["orderId"]})
        events = await _read_until(client, sub["subscription"], lambda ev: len(ev) >= 4)
    assert [(e["e"], e.get("x"), e.get("X")) for e in events] == [
        ("executionReport", "NEW", "NEW"), ("outboundAccountPosition", None, None),
        ("executionReport", "CANCELED", "CANCELED"), ("outboundAccountPosition", None, None)]
    assert [{b["a"]: (D(b["f"]), D(b["l"])) for b in e["B"]}["BTC"] for e in events[1::2]] == [
        (D("0.6"), D("0.4")), (D(1), D(0))]
    assert all(e["environment"] == "paper" for e in events)
    _no_network_for_events(fake_exchange)
