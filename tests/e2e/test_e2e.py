"""End to end: a real MCP client drives the real server against the fake exchange on 127.0.0.1.

In memory for both protocol eras, and over stdio through the installed console script.
"""

from __future__ import annotations

import json
import re
from decimal import ROUND_DOWN, Decimal
from typing import Any

import pytest
from mcp.shared.exceptions import MCPError

from binance_spot_mcp.catalog.endpoints import load_catalog
from tests.e2e_support import (
    ERAS,
    World,
    memory_client,
    result_json,
    stdio_client_for,
    transcript,
    write_world,
)

pytestmark = pytest.mark.anyio




def _posts(world: World) -> list[Any]:
    return [r for r in world.exchange.requests if r.method != "GET"]


def _round_to(value: Decimal, step: Decimal) -> str:
    return str((value / step).to_integral_value(rounding=ROUND_DOWN) * step)


async def _order_terms(client: Any, symbol: str = "BTCUSDT") -> dict[str, Decimal]:
    """Price and quantity steps, minimum notional and the last price, read through the tools."""
    info = result_json(await client.call_tool("get_exchange_info", {"symbol": symbol, "account": "main"}))
    filters = {f["filterType"]: f for f in info["symbols"][0]["filters"]}
    price = Decimal(result_json(await client.call_tool("get_ticker_price", {"symbol": symbol, "account": "main"}))["price"])
    notional = filters.get("NOTIONAL", filters.get("MIN_NOTIONAL", {})).get("minNotional", "10")
    return {
        "tick": Decimal(filters["PRICE_FILTER"]["tickSize"]),
        "step": Decimal(filters["LOT_SIZE"]["stepSize"]),
        "min_notional": Decimal(notional),
        "price": price,
    }


def _qty_for(terms: dict[str, Decimal], price: Decimal, factor: int = 3) -> str:
    raw = terms["min_notional"] * factor / price
    steps = (raw / terms["step"]).to_integral_value(rounding=ROUND_DOWN) + 1
    return str(steps * terms["step"])


@pytest.mark.parametrize("mode", ERAS)
async def test_every_tool_is_listed_with_derived_annotations(world, mode):
    async with memory_client(world.tools_file, mode, world.base_url) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    catalog = load_catalog()
    own = {"list_accounts", "show_account", "add_account", "get_safety_status"} | {
        "subscribe_stream", "read_stream", "unsubscribe_stream", "list_streams", "wait_for_order"} | {"get_portfolio"}
    assert set(tools) == {e.tool for e in catalog.endpoints} | own
    assert len(tools) == 58
    # the first tool with an output schema: its structuredContent is checked against it by the client
    assert [name for name, t in tools.items() if t.output_schema] == ["get_portfolio"]
    assert all(tools[name].annotations.read_only_hint is True for name in ("read_stream", "wait_for_order"))
    assert tools["get_account"].annotations.read_only_hint is True
    assert tools["place_order"].annotations.read_only_hint is False
    # tools that spend or remove something are destructive; every tool has a short title
    for name in ("place_order", "place_order_list_oco", "place_sor_order", "cancel_replace_order", "add_account"):
        assert tools[name].annotations.destructive_hint is True, name
    assert tools["get_safety_status"].annotations.read_only_hint is True
    assert all(t.title and len(t.title) <= 40 for t in tools.values())
    assert tools["place_order_list_oco"].title == "Place order list OCO"
    assert tools["test_order"].annotations.read_only_hint is True
    assert tools["cancel_order"].annotations.destructive_hint is True
    assert tools["place_order"].input_schema["additionalProperties"] is False
    assert "environment" in tools["get_order_book"].input_schema["properties"]
    assert "environment" not in tools["get_account"].input_schema["properties"]


@pytest.mark.parametrize("mode", ERAS)
async def test_public_market_data(world, mode):
    async with memory_client(world.tools_file, mode, world.base_url) as client:
        price = result_json(await client.call_tool("get_ticker_price", {"symbol": "BTCUSDT", "account": "main"}))
        book = result_json(await client.call_tool("get_order_book", {"symbol": "BTCUSDT", "limit": 5, "account": "main"}))
        several = result_json(await client.call_tool("get_ticker_price", {"symbols": ["BTCUSDT", "ETHUSDT"], "account": "main"}))
        assert (await client.call_tool("ping", {"account": "main"})).is_error is False
    assert price["symbol"] == "BTCUSDT" and Decimal(price["price"]) > 0
    assert isinstance(price["price"], str)  # decimals stay strings
    assert 0 < len(book["bids"]) <= 5
    assert {t["symbol"] for t in several} == {"BTCUSDT", "ETHUSDT"}
    public = [r for r in world.exchange.requests if r.path.startswith("/api/v3/ticker")]
    assert public and all("x-mbx-apikey" not in {k.lower() for k in r.headers} for r in public)


@pytest.mark.parametrize("mode", ERAS)
@pytest.mark.parametrize("account", ["main", "rsa", "ed"])
async def test_signed_read_for_every_key_type(world, mode, account):
    async with memory_client(world.tools_file, mode, world.base_url) as client:
        result = await client.call_tool("get_account", {"account": account, "omitZeroBalances": True})
    assert not result.is_error, result
    body = result_json(result)
    assert "balances" in body
    signed = [r for r in world.exchange.requests if r.path == "/api/v3/account"]
    assert signed and signed[-1].status == 200
    ua = {k.lower(): v for k, v in signed[-1].headers.items()}["user-agent"]
    assert ua == f"binance-spot/{load_catalog().version} (Skill)"


@pytest.mark.parametrize("mode", ERAS)
async def test_order_lifecycle_on_testnet(world, mode):
    async with memory_client(world.tools_file, mode, world.base_url) as client:
        terms = await _order_terms(client)
        qty = _qty_for(terms, terms["price"])
        market = result_json(await client.call_tool(
            "place_order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": qty, "newOrderRespType": "FULL"}
        ))
        assert market["status"] == "FILLED" and Decimal(market["executedQty"]) == Decimal(qty)
        assert re.fullmatch(r"agent-[A-Za-z0-9]{18}", market["clientOrderId"])  # generated

        low = Decimal(_round_to(terms["price"] * Decimal("0.9"), terms["tick"]))
        rest_qty = _qty_for(terms, low)
        resting = result_json(await client.call_tool(
            "place_order",
            {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": rest_qty, "price": str(low),
             "newClientOrderId": "e2e-rest-1"},
        ))
        assert resting["status"] == "NEW" and resting["clientOrderId"] == "agent-e2e-rest-1"  # prefixed
        open_orders = result_json(await client.call_tool("get_open_orders", {"symbol": "BTCUSDT"}))
        assert [o["orderId"] for o in open_orders] == [resting["orderId"]]
        cancelled = result_json(await client.call_tool("cancel_order", {"symbol": "BTCUSDT", "origClientOrderId": "agent-e2e-rest-1"}))
        assert cancelled["status"] == "CANCELED"
        queried = result_json(await client.call_tool("get_order", {"symbol": "BTCUSDT", "orderId": resting["orderId"]}))
        assert queried["status"] == "CANCELED"
        tested = await client.call_tool(
            "test_order", {"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET", "quantity": qty, "account": "rsa"}
        )
        assert not tested.is_error, tested
        ed_order = result_json(await client.call_tool(
            "place_order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": qty, "account": "ed"}
        ))
        assert ed_order["status"] == "FILLED"


@pytest.mark.parametrize("mode", ERAS)
async def test_order_list_placed_listed_and_cancelled(world, mode):
    async with memory_client(world.tools_file, mode, world.base_url) as client:
        terms = await _order_terms(client)
        above = Decimal(_round_to(terms["price"] * Decimal("1.05"), terms["tick"]))
        below = Decimal(_round_to(terms["price"] * Decimal("0.95"), terms["tick"]))
        qty = _qty_for(terms, below)
        placed = await client.call_tool(
            "place_order_list_oco",
            {"symbol": "BTCUSDT", "side": "SELL", "quantity": qty, "aboveType": "LIMIT_MAKER", "abovePrice": str(above),
             "belowType": "STOP_LOSS_LIMIT", "belowStopPrice": str(below), "belowPrice": str(below - terms["tick"] * 10),
             "belowTimeInForce": "GTC"},
        )
        assert not placed.is_error, placed
        order_list = result_json(placed)
        assert len(order_list["orders"]) == 2
        open_lists = result_json(await client.call_tool("get_open_order_lists", {}))
        assert [o["orderListId"] for o in open_lists] == [order_list["orderListId"]]
        cancelled = result_json(await client.call_tool(
            "cancel_order_list", {"symbol": "BTCUSDT", "orderListId": order_list["orderListId"]}
        ))
        assert cancelled["listOrderStatus"] == "ALL_DONE"
        assert result_json(await client.call_tool("get_open_order_lists", {})) == []


@pytest.mark.parametrize("mode", ERAS)
async def test_bad_arguments_are_refused_before_anything_is_sent(world, mode):
    async with memory_client(world.tools_file, mode, world.base_url) as client:
        before = len(world.exchange.requests)
        cases = [
            ({"symbol": "BTCUSDT", "side": "HOLD", "type": "MARKET"}, "side", "BUY, SELL"),
            ({"symbol": "BTCUSDT", "side": "BUY"}, "type", "missing required"),
            ({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "price": "1e"}, "price", "decimal"),
            ({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "recvWindow": 70000}, "recvWindow", "60000"),
            ({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "bogus": 1}, "bogus", "unknown parameter"),
        ]
        for args, parameter, fragment in cases:
            result = await client.call_tool("place_order", args)
            assert result.is_error
            body = result_json(result)
            assert body["error"] == "invalid_arguments" and body["parameter"] == parameter and fragment in body["message"]
        depth = result_json(await client.call_tool("get_order_book", {"symbol": "BTCUSDT", "limit": 6000}))
        assert depth["parameter"] == "limit" and "5000" in depth["message"]
        assert len(world.exchange.requests) == before


@pytest.mark.parametrize("mode", ERAS)
async def test_binance_errors_come_back_with_code_msg_and_hint(world, mode):
    async with memory_client(world.tools_file, mode, world.base_url) as client:
        unknown = await client.call_tool("get_order", {"symbol": "BTCUSDT", "orderId": 987654321})
        assert unknown.is_error
        body = result_json(unknown)
        assert body["error"] == "binance_error" and body["code"] == -2013 and body["msg"] and body["hint"]
        bad_symbol = result_json(await client.call_tool(
            "place_order", {"symbol": "NOPEUSDT", "side": "BUY", "type": "MARKET", "quantity": "1"}
        ))
        assert bad_symbol["code"] == -1121 and "symbol" in bad_symbol["hint"].lower()
        with pytest.raises(MCPError) as info:
            await client.call_tool("no_such_tool", {})
        assert info.value.code == -32602


@pytest.mark.parametrize("mode", ERAS)
async def test_mainnet_state_change_is_never_sent_unconfirmed(world, mode):
    """A host with no approval channel: mainnet changes are refused outright; reads still work."""
    async with memory_client(world.tools_file, mode, world.base_url) as client:
        before = len(_posts(world))
        refused = await client.call_tool(
            "place_order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.01", "account": "live"}
        )
        assert refused.is_error
        body = result_json(refused)
        assert body["error"] == "not_confirmed" and "confirmation_token" not in body
        cancel = result_json(await client.call_tool("cancel_open_orders", {"symbol": "BTCUSDT", "account": "live"}))
        assert cancel["error"] == "not_confirmed"
        assert len(_posts(world)) == before
        # reads and order tests on mainnet need no approval
        assert not (await client.call_tool("get_account", {"account": "live"})).is_error
        assert not (await client.call_tool(
            "test_order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.01", "account": "live"}
        )).is_error


async def test_ambiguous_account_lists_the_names(tmp_path, fake_exchange, keys):
    world = write_world(tmp_path, fake_exchange, keys)
    text = world.tools_file.read_text().replace("### main", "### first")
    world.tools_file.write_text(text)
    async with memory_client(world.tools_file, "auto", world.base_url) as client:
        body = result_json(await client.call_tool("get_account", {}))
    assert body["error"] == "account_error"
    assert "first (testnet), rsa (testnet), ed (demo), live (mainnet)" in body["message"]


@pytest.mark.parametrize("mode", ERAS)
async def test_over_stdio_with_the_console_script(world, mode):
    seen: list[Any] = []
    async with stdio_client_for(world.tools_file, mode, base_url=world.base_url) as (client, stderr_path):
        tools = await client.list_tools()
        seen.append(tools)
        assert len(tools.tools) == 58
        for name, args in [
            ("get_ticker_price", {"symbol": "ETHUSDT"}),
            ("get_account", {"account": "rsa"}),
            ("get_account", {"account": "ed"}),
            ("get_open_orders", {"symbol": "BTCUSDT"}),
            ("place_order", {"symbol": "BTCUSDT", "side": "HOLD", "type": "MARKET"}),
        ]:
            result = await client.call_tool(name, args)
            seen.append(result)
        assert [r.is_error for r in seen[1:]] == [False, False, False, False, True]
    stderr = stderr_path.read_text()
    assert "serving 58 tools" in stderr
    assert "signature=" not in stderr.replace("signature=***", "")
    text = transcript(seen) + stderr
    for secret in world.keys.sensitive():
        assert secret not in text


@pytest.mark.parametrize("mode", ERAS)
async def test_no_secret_in_any_result(world, mode):
    keys = world.keys
    seen: list[Any] = []
    async with memory_client(world.tools_file, mode, world.base_url) as client:
        seen.append(await client.list_tools())
        for account in ("main", "rsa", "ed", "live"):
            seen.append(await client.call_tool("get_account", {"account": account}))
            seen.append(await client.call_tool("get_order", {"account": account, "symbol": "BTCUSDT", "orderId": 1}))
            seen.append(await client.call_tool(
                "place_order", {"account": account, "symbol": keys.hmac_secret[:20], "side": "BUY", "type": "MARKET", "quantity": "1"}
            ))
        seen.append(await client.call_tool("get_account", {"account": keys.hmac_secret}))
        seen.append(await client.call_tool("get_ticker_price", {"symbol": keys.live_secret}))
    text = transcript(seen)
    for secret in keys.sensitive():
        assert secret not in text


async def test_starts_without_any_tools_file_and_trades_on_paper(tmp_path, fake_exchange):
    """The README's first command: no TOOLS.md at all; market data works, and the built-in paper
    account answers the account tools and fills a buy against the live book with no key at all."""
    env = {"BINANCE_SPOT_MCP_MAINNET_BASE_URL": fake_exchange.base_url}
    async with stdio_client_for(None, "auto", extra_env=env, workdir=tmp_path) as (client, stderr_path):
        listed = {t.name for t in (await client.list_tools()).tools}
        # only what can work with the built-in paper account: no SOR, no OTO-family lists, no allocations
        assert {"place_order", "place_order_list_oco", "get_account", "get_ticker_price"} <= listed
        assert not listed & {"place_sor_order", "place_order_list_otoco", "get_allocations", "get_my_filters"}
        price = result_json(await client.call_tool("get_ticker_price", {"symbol": "BTCUSDT"}))
        account = result_json(await client.call_tool("get_account", {}))
        bought = result_json(await client.call_tool(
            "place_order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.01"}))
    assert Decimal(price["price"]) > 0
    assert account["environment"] == "paper" and account["balances"] == [
        {"asset": "USDT", "free": "10000.00000000", "locked": "0.00000000"}]
    assert bought["status"] == "FILLED" and bought["fills"][0]["price"] == "60030.00000000"
    paths = {r.path for r in fake_exchange.exchange.requests}
    assert paths <= {"/api/v3/ticker/price", "/api/v3/exchangeInfo", "/api/v3/depth", "/api/v3/avgPrice"}, paths
    assert not any("signature" in r.query + r.body or "x-mbx-apikey" in {h.lower() for h in r.headers}
                   for r in fake_exchange.exchange.requests)  # nothing signed, no key: there is none
    assert "WARNING" not in stderr_path.read_text()  # a missing default TOOLS.md is not a problem


@pytest.mark.parametrize("mode", ERAS)
async def test_state_changes_are_journaled_before_and_after(world, mode):
    journal = world.tools_file.parent / "journal.jsonl"
    async with memory_client(world.tools_file, mode, world.base_url) as client:
        terms = await _order_terms(client)
        placed = result_json(await client.call_tool(
            "place_order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": _qty_for(terms, terms["price"])}
        ))
        rejected = await client.call_tool("cancel_order", {"symbol": "BTCUSDT", "orderId": 99999999})
        await client.call_tool("get_account", {})  # reads are not journaled
    entries = [json.loads(line) for line in journal.read_text().splitlines()]
    assert [(e["phase"], e.get("tool")) for e in entries] == [
        ("intent", "place_order"), ("outcome", None), ("intent", "cancel_order"), ("outcome", None)
    ]
    assert entries[0]["id"] == entries[1]["id"] and entries[0]["account"] == "main"
    assert entries[0]["params"]["symbol"] == "BTCUSDT" and "signature" not in entries[0]["params"]
    assert entries[1]["ok"] is True and entries[1]["summary"]["orderId"] == placed["orderId"]
    assert rejected.is_error and entries[3]["ok"] is False and entries[3]["summary"]["code"] == -2011
    text = journal.read_text()
    for secret in world.keys.sensitive():
        assert secret not in text
    assert oct(journal.stat().st_mode & 0o777) == "0o600"
