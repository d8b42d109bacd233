"""Stream events a model reads well: ``read_stream`` gives Binance's payloads with full field
names (by event type, as web-socket-streams.md and user-data-stream.md describe each letter),
and ``raw: true`` gives them as Binance sent them. Fields documented as "Ignore" are left out;
an unknown field or event keeps its keys. The read's size budget holds for the labelled text."""

from __future__ import annotations

import json

import anyio
import pytest

from binance_spot_mcp.streams.labels import FIELDS, label_event
from tests.e2e_support import memory_client, result_json, stream_environ

pytestmark = pytest.mark.anyio
BOUND_S = 30

TRADE = {"e": "trade", "E": 1672515782136, "s": "BNBBTC", "t": 12345, "p": "0.001", "q": "100",
         "T": 1672515782136, "m": True, "M": True}
KLINE = {"e": "kline", "E": 1, "s": "BNBBTC", "k": {"t": 1, "T": 2, "s": "BNBBTC", "i": "1m", "f": 100, "L": 200,
                                                   "o": "0.0010", "c": "0.0020", "h": "0.0025", "l": "0.0015",
                                                   "v": "1000", "n": 100, "x": False, "q": "1.0000", "V": "500",
                                                   "Q": "0.500", "B": "123456"}}
POSITION = {"e": "outboundAccountPosition", "E": 1, "u": 2, "B": [{"a": "ETH", "f": "1.0", "l": "0.5"}]}


def test_fields_are_named_by_event_type():
    assert label_event(TRADE) == {"eventType": "trade", "eventTime": 1672515782136, "symbol": "BNBBTC",
                                  "tradeId": 12345, "price": "0.001", "qty": "100", "tradeTime": 1672515782136,
                                  "isBuyerMaker": True}
    bar = label_event(KLINE)["kline"]
    assert (bar["open"], bar["close"], bar["high"], bar["low"], bar["isClosed"]) == ("0.0010", "0.0020", "0.0025", "0.0015", False)
    assert "B" not in bar and "ignored" not in bar
    assert label_event(POSITION)["balances"] == [{"asset": "ETH", "free": "1.0", "locked": "0.5"}]
    # the same letter means different things in different events
    assert label_event({"e": "24hrMiniTicker", "q": "18"})["quoteVolume"] == "18"
    assert label_event({"e": "24hrTicker", "l": "1"})["lowPrice"] == "1"
    assert label_event({"e": "aggTrade", "l": 105})["lastTradeId"] == 105
    assert label_event({"u": 1, "s": "X", "b": "1", "B": "2", "a": "3", "A": "4"})["askQty"] == "4"  # book ticker


def test_what_is_not_known_is_kept():
    assert label_event({"e": "somethingNew", "x": 1}) == {"e": "somethingNew", "x": 1}
    assert label_event({"e": "trade", "zz": 1})["zz"] == 1
    depth = {"lastUpdateId": 1, "bids": [], "asks": []}
    assert label_event(depth) == depth and label_event([1, 2]) == [1, 2]


def test_no_two_fields_of_one_event_share_a_name():
    for kind, names in FIELDS.items():
        kept = [n for n in names.values() if n != "ignored"]
        assert len(kept) == len(set(kept)), kind


async def test_read_stream_labels_unless_raw(world):
    env = stream_environ(world.fake)
    async with memory_client(world.tools_file, "auto", world.base_url, extra_env=env) as client:
        sub = result_json(await client.call_tool("subscribe_stream", {"streams": ["btcusdt@trade"],
                                                                      "environment": "testnet"}))
        order = await client.call_tool("place_order", {"account": "main", "symbol": "BTCUSDT", "side": "BUY",
                                                       "type": "MARKET", "quantity": "0.001"})
        assert not order.is_error, order
        with anyio.fail_after(BOUND_S):
            labelled = result_json(await client.call_tool("read_stream", {
                "subscription": sub["subscription"], "cursor": 0, "wait_seconds": 10}))
            raw = result_json(await client.call_tool("read_stream", {
                "subscription": sub["subscription"], "cursor": 0, "raw": True}))
        refused = await client.call_tool("read_stream", {"subscription": sub["subscription"], "raw": "yes"})
    event = labelled["events"][0]["data"]
    assert event["eventType"] == "trade" and event["symbol"] == "BTCUSDT" and "p" not in event
    assert raw["events"][0]["data"]["e"] == "trade" and raw["events"][0]["data"]["p"] == event["price"]
    assert refused.is_error and json.loads(refused.content[0].text)["parameter"] == "raw"


async def test_the_size_budget_holds_for_labelled_events(world):
    """Labels lengthen events: a read still pages instead of being cut (invariant 13)."""
    streams = world.fake.streams
    env = {**stream_environ(world.fake), "BINANCE_SPOT_MCP_MAX_RESULT_CHARS": "20000"}
    async with memory_client(world.tools_file, "auto", world.base_url, extra_env=env) as client:
        sid = result_json(await client.call_tool("subscribe_stream", {"streams": ["btcusdt@trade"],
                                                                      "environment": "testnet", "buffer": 1000}))["subscription"]
        streams.flood("btcusdt@trade", 300)
        with anyio.fail_after(BOUND_S):
            while result_json(await client.call_tool("list_streams", {}))["subscriptions"][0]["latest_seq"] < 300:
                await anyio.sleep(0.002)  # paced: the fake's thread needs the GIL to write the frames
        seqs, cursor = [], 0
        while cursor < 300 and len(seqs) < 1000:
            result = await client.call_tool("read_stream", {"subscription": sid, "cursor": cursor, "limit": 500})
            text = result.content[0].text
            assert not result.is_error and len(text) <= 20_000 and "truncated" not in text
            read = json.loads(text)
            assert all("eventType" in e["data"] for e in read["events"])
            seqs += [e["seq"] for e in read["events"]]
            cursor = read["next_cursor"]
    assert seqs == list(range(1, 301))
