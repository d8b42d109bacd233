"""add_account speaks like the other tools: the new account's name is ``account`` (as in
``show_account``; the first spelling ``name`` still works), it takes a ``base_url`` as the CLI's
``--base-url`` does (Binance's host of the environment, or loopback), and where no human can
approve it the hint points at the command line, not at placing an order on binance.com."""

from __future__ import annotations

import pytest

from binance_spot_mcp.accounts.tools import TOOLS
from tests.approval_support import host, runtime_for
from tests.e2e_support import ERAS, memory_client, random_token, result_json

pytestmark = pytest.mark.anyio
SCHEMAS = {t.name: t.input_schema for t in TOOLS}


def test_show_and_add_name_the_account_alike():
    assert "account" in SCHEMAS["show_account"]["properties"]
    assert "account" in SCHEMAS["add_account"]["properties"] and "name" not in SCHEMAS["add_account"]["properties"]
    assert SCHEMAS["add_account"]["required"] == ["account", "environment"]
    assert "base_url" in SCHEMAS["add_account"]["properties"]


@pytest.mark.parametrize("mode", ERAS)
async def test_account_or_name_and_a_loopback_base_url(world, mode):
    keys = [(random_token(), random_token()) for _ in range(2)]
    for api_key, secret in keys:
        world.exchange.add_account(api_key, hmac_secret=secret)
    async with memory_client(world.tools_file, mode, world.base_url) as client:
        by_account = await client.call_tool("add_account", {
            "account": "fresh", "environment": "testnet", "api_key": keys[0][0], "secret": keys[0][1],
            "base_url": world.base_url})
        by_name = await client.call_tool("add_account", {
            "name": "older", "environment": "testnet", "api_key": keys[1][0], "secret": keys[1][1]})
        both = await client.call_tool("add_account", {
            "account": "a", "name": "b", "environment": "testnet", "api_key": random_token(), "secret": random_token()})
        shown = result_json(await client.call_tool("show_account", {"account": "fresh"}))
        used = await client.call_tool("get_account", {"account": "fresh"})
    assert not by_account.is_error and result_json(by_account)["added"] == "fresh"
    assert not by_name.is_error and result_json(by_name)["added"] == "older"
    assert both.is_error and result_json(both)["parameter"] == "account"
    assert shown["base_url"] == world.base_url and not used.is_error
    assert f"- Base URL: {world.base_url}" in world.tools_file.read_text()


@pytest.mark.parametrize(("url", "problem"), [
    ("https://api.example.com", "keys are only sent to Binance"),
    ("https://api.binance.com", "mainnet"),  # a production host for a testnet entry: its label would lie
], ids=["foreign", "other-environment"])
async def test_a_base_url_keys_may_not_go_to_is_refused(world, url, problem):
    before = world.tools_file.read_bytes()
    async with memory_client(world.tools_file, "auto", world.base_url) as client:
        result = await client.call_tool("add_account", {
            "account": "fresh", "environment": "testnet", "api_key": random_token(), "secret": random_token(),
            "base_url": url})
    body = result_json(result)
    assert result.is_error and body["parameter"] == "base_url" and problem in body["message"]
    assert world.tools_file.read_bytes() == before


async def test_no_channel_hint_for_add_account_points_at_the_command_line(world, monkeypatch):
    runtime = runtime_for(world)
    try:
        async with host(runtime, "none", "auto", None, monkeypatch) as client:
            result = await client.call_tool("add_account", {
                "account": "fresh-live", "environment": "mainnet", "api_key": random_token(), "secret": random_token()})
            order = await client.call_tool("place_order", {
                "account": "live", "symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"})
    finally:
        await runtime.aclose()
    hint = result_json(result)["hint"]
    assert result_json(result)["error"] == "not_confirmed"
    assert "binance-spot-mcp accounts add" in hint and "order" not in hint
    assert "binance.com" in result_json(order)["hint"]  # an order may still be placed by hand there
