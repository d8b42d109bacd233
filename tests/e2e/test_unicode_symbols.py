"""Testnet's Unicode symbol 这是测试币456 (base 这是测试币, quote 456) end to end: a real MCP client,
the real server, the fake exchange, which lists the symbol and checks every signature over the
percent-encoded payload the way Binance does (a signature over the raw UTF-8 would be -1022).

Also: the operator's symbol lists and a cap in the quote asset 456 hold for it, and the dry-run
preview, the approval preview and the journal show the symbol as it is (not escaped, not mangled).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import anyio
import pytest
from binance_spot_mcp.accounts.reading import Account
from binance_spot_mcp.approval.confirm import preview
from binance_spot_mcp.exchange.signing import HmacSigner

from tests.e2e_support import ERAS, World, memory_client, result_json, stream_environ

pytestmark = pytest.mark.anyio

SYMBOL, BASE_ASSET, QUOTE_ASSET = "这是测试币456", "这是测试币", "456"
ENCODED = "%E8%BF%99%E6%98%AF%E6%B5%8B%E8%AF%95%E5%B8%81456"  # SYMBOL as UTF-8, percent-encoded
# On the fake: last price 2, best bid 1.999, best ask 2.001; tick 0.0001, step 0.01, min notional 1.
BUY = {"symbol": SYMBOL, "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "10", "price": "1.9"}


def _fund(world: World, api_key: str) -> None:
    account = world.exchange.account_for(api_key)
    with world.exchange.lock:
        account.balances[QUOTE_ASSET] = [Decimal(10000), Decimal(0)]
        account.balances[BASE_ASSET] = [Decimal(1000), Decimal(0)]


def _with_account(world: World, name: str, *rules: str) -> None:
    lines = [f"### {name}", f"- API Key: {world.keys.hmac_api_key}", f"- Secret: {world.keys.hmac_secret}",
             "- Environment: testnet", f"- Base URL: {world.base_url}", *(f"- {r}" for r in rules)]
    world.tools_file.write_text(world.tools_file.read_text() + "\n" + "\n".join(lines) + "\n")


def _signed_writes(world: World, path: str) -> list[Any]:
    return [r for r in world.exchange.requests if r.method != "GET" and r.path == path]


@pytest.mark.parametrize("mode", ERAS)
@pytest.mark.parametrize("account", ["main", "rsa", "ed"])  # HMAC, RSA and Ed25519 signatures
async def test_an_order_on_the_unicode_symbol_is_signed_as_binance_checks_it(world, mode, account):
    key = {"main": world.keys.hmac_api_key, "rsa": world.keys.rsa_api_key, "ed": world.keys.ed_api_key}[account]
    _fund(world, key)
    async with memory_client(world.tools_file, mode, world.base_url) as client:
        info = result_json(await client.call_tool("get_exchange_info", {"symbol": SYMBOL, "account": account}))
        (listed,) = info["symbols"]
        assert (listed["symbol"], listed["baseAsset"], listed["quoteAsset"]) == (SYMBOL, BASE_ASSET, QUOTE_ASSET)
        prices = result_json(await client.call_tool("get_ticker_price", {"symbols": [SYMBOL, "BTCUSDT"], "account": account}))
        assert {p["symbol"] for p in prices} == {SYMBOL, "BTCUSDT"}

        tested = await client.call_tool("test_order", {**BUY, "account": account})
        assert not tested.is_error, tested
        placed = await client.call_tool("place_order", {**BUY, "account": account, "newClientOrderId": "uni-1"})
        assert not placed.is_error, placed
        order = result_json(placed)
        assert order["symbol"] == SYMBOL and order["status"] == "NEW"
        mine = result_json(await client.call_tool("get_open_orders", {"symbol": SYMBOL, "account": account}))
        assert [o["clientOrderId"] for o in mine] == [order["clientOrderId"]]
        cancelled = result_json(await client.call_tool(
            "cancel_order", {"symbol": SYMBOL, "origClientOrderId": order["clientOrderId"], "account": account}))
        assert cancelled["status"] == "CANCELED"
    # every signed request went out percent-encoded, and the fake verified its signature (200)
    for path in ("/api/v3/order/test", "/api/v3/order"):
        (request,) = [r for r in _signed_writes(world, path) if r.method == "POST"]
        assert request.status == 200 and f"symbol={ENCODED}&" in request.body and request.body.isascii()
    (listing,) = [r for r in world.exchange.requests if r.path == "/api/v3/openOrders"]
    assert listing.status == 200 and f"symbol={ENCODED}&" in listing.query


@pytest.mark.parametrize("mode", ERAS)
async def test_symbol_lists_and_a_cap_in_the_quote_asset_hold_for_the_unicode_symbol(world, mode):
    _fund(world, world.keys.hmac_api_key)
    _with_account(world, "unicode", f"Allowed Symbols: {SYMBOL}, ETH*", "Denied Symbols: *DOWN*",
                  f"Max Order Value: 100 {QUOTE_ASSET}")
    async with memory_client(world.tools_file, mode, world.base_url) as client:
        status = result_json(await client.call_tool("get_safety_status", {"account": "unicode"}))
        assert SYMBOL in json.dumps(status, ensure_ascii=False)
        ok = await client.call_tool("place_order", {**BUY, "account": "unicode"})  # 19 of 456
        assert not ok.is_error, ok
        over = await client.call_tool("place_order", {**BUY, "quantity": "100", "account": "unicode"})  # 190 of 456
        other = await client.call_tool("place_order", {**BUY, "symbol": "BNBUSDT", "price": "540", "account": "unicode"})
    over_body, other_body = result_json(over), result_json(other)
    assert over.is_error and over_body["rule"] == "max order value" and "456" in over_body["message"]
    assert other.is_error and other_body["rule"] == "symbol list"
    assert f"not in the allowed symbols ({SYMBOL}, ETH*)" in other_body["message"]
    assert len([r for r in _signed_writes(world, "/api/v3/order")]) == 1


@pytest.mark.parametrize("mode", ERAS)
async def test_dry_run_preview_and_journal_show_the_symbol_as_it_is(world, mode):
    _with_account(world, "rehearsal", "Dry Run: true")
    async with memory_client(world.tools_file, mode, world.base_url) as client:
        result = await client.call_tool("place_order", {**BUY, "account": "rehearsal"})
    assert not result.is_error, result
    text = result.content[0].text
    assert SYMBOL in text and "\\u8fd9" not in text  # readable, not \u-escaped
    assert result_json(result)["request"]["params"]["symbol"] == SYMBOL
    journal = (world.tools_file.parent / "journal.jsonl").read_text(encoding="utf-8")
    (intent,) = [json.loads(line) for line in journal.splitlines() if '"intent"' in line]
    assert intent["params"]["symbol"] == SYMBOL and SYMBOL in journal


@pytest.mark.parametrize("mode", ERAS)
async def test_a_trade_stream_on_the_unicode_symbol_delivers_its_trades(world, mode):
    _fund(world, world.keys.hmac_api_key)
    async with memory_client(world.tools_file, mode, world.base_url, extra_env=stream_environ(world.fake)) as client:
        sub = result_json(await client.call_tool("subscribe_stream", {"streams": [f"{SYMBOL}@trade"], "environment": "testnet"}))
        assert sub["streams"] == [f"{SYMBOL}@trade"]
        order = result_json(await client.call_tool("place_order", {
            "symbol": SYMBOL, "side": "BUY", "type": "MARKET", "quantity": "5", "newOrderRespType": "FULL"}))
        with anyio.fail_after(10):
            read = result_json(await client.call_tool("read_stream", {"subscription": sub["subscription"], "wait_seconds": 5,
                                                                      "raw": True}))
            while not read["events"]:
                read = result_json(await client.call_tool(
                    "read_stream", {"subscription": sub["subscription"], "cursor": read["next_cursor"], "wait_seconds": 5,
                                    "raw": True}))
    trade = read["events"][0]["data"]
    assert trade["s"] == SYMBOL and trade["t"] == order["fills"][0]["tradeId"]


def test_the_approval_preview_shows_the_symbol_and_quote_asset_readably():
    account = Account(name="main", environment="testnet", api_key="k" * 64, signer=HmacSigner("s" * 64),
                      base_url="https://testnet.binance.vision")
    text = preview("Place order", account, [(k, v) for k, v in BUY.items()], quote_asset=QUOTE_ASSET)
    assert f"Symbol: {SYMBOL}" in text and f"19 {QUOTE_ASSET}" in text and "\\u" not in text
