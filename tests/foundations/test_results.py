"""Reply size: huge replies are cut to valid JSON that says so and how to narrow the query."""

from __future__ import annotations

import json

import pytest

from binance_spot_mcp.config import load_settings
from binance_spot_mcp.errors import ConfigError
from binance_spot_mcp.results import cap_json, narrowing_hint
from tests.e2e_support import make_keys, memory_client, result_json, write_world

TICKERS = [{"symbol": f"SYM{i}USDT", "price": f"{i}.12345678"} for i in range(5000)]


def test_small_replies_are_untouched():
    assert cap_json({"a": [1, 2]}, 100) == '{"a":[1,2]}'


@pytest.mark.parametrize("limit", [2_000, 10_000, 80_000])
def test_a_huge_list_is_cut_to_valid_json_with_a_notice(limit):
    text = cap_json(TICKERS, limit, hint="pass symbol")
    assert len(text) <= limit
    body = json.loads(text)
    kept = body["items"]
    assert kept == TICKERS[: len(kept)] and 0 < len(kept) < len(TICKERS)
    assert body["_notice"]["truncated"] is True and body["_notice"]["hint"] == "pass symbol"
    assert body["_notice"]["kept_items"]["items"] == f"{len(kept)} of 5000"


def test_every_big_list_of_an_object_is_shortened_and_the_rest_kept():
    book = {"lastUpdateId": 7, "bids": [["1.0", "2.0"]] * 3000, "asks": [["1.1", "2.0"]] * 3000}
    body = json.loads(cap_json(book, 20_000))
    assert body["lastUpdateId"] == 7
    assert 0 < len(body["bids"]) < 3000 and 0 < len(body["asks"]) < 3000
    assert body["_notice"]["kept_items"]["bids"].endswith("of 3000")


def test_a_reply_without_lists_becomes_a_notice():
    body = json.loads(cap_json({"blob": "x" * 10_000}, 2_000))
    assert body["_notice"]["truncated"] is True


def test_hints_come_from_the_tools_parameters():
    assert "symbol" in narrowing_hint(["symbol", "symbols", "permissions"])
    assert "smaller limit" in narrowing_hint(["symbol", "limit", "startTime"])
    assert narrowing_hint([]) == "Narrow the query."


def test_cap_is_configurable_and_checked():
    assert load_settings(environ={"BINANCE_SPOT_MCP_MAX_RESULT_CHARS": "5000"}).max_result_chars == 5000
    assert load_settings(environ={}).max_result_chars == 80_000
    with pytest.raises(ConfigError):
        load_settings(environ={"BINANCE_SPOT_MCP_MAX_RESULT_CHARS": "12"})


@pytest.mark.anyio
async def test_exchange_info_without_symbol_is_cut_through_the_server(tmp_path, fake_exchange, monkeypatch):
    world = write_world(tmp_path, fake_exchange, make_keys())
    from tests import e2e_support

    original = e2e_support.loopback_environ
    monkeypatch.setattr(
        e2e_support, "loopback_environ",
        lambda base, state=None: {**original(base, state), "BINANCE_SPOT_MCP_MAX_RESULT_CHARS": "3000"},
    )
    async with memory_client(world.tools_file, "auto", world.base_url) as client:
        result = await client.call_tool("get_exchange_info", {"account": "main"})
    assert len(result.content[0].text) <= 3000
    body = result_json(result)
    assert body["_notice"]["truncated"] is True and "symbol" in body["_notice"]["hint"]
    assert body["timezone"] and len(body["rateLimits"]) >= 3  # short lists are kept whole
