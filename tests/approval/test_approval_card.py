"""The MCP Apps confirmation card: offered only to hosts that declared MCP Apps, app-only, served
with the MCP Apps MIME type; and the preview's words are the server's own."""

from __future__ import annotations

import pytest
from mcp.server.apps import APP_MIME_TYPE
from mcp.shared.exceptions import MCPError

from binance_spot_mcp.accounts.store import AccountStore
from binance_spot_mcp.approval.card import APPROVE_TOOL, CARD_URI
from binance_spot_mcp.approval.confirm import preview
from binance_spot_mcp.config import load_settings
from binance_spot_mcp.redact import Redactor, escape_text
from tests.approval_support import host, runtime_for, sends
from tests.e2e_support import ERAS

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("mode", ERAS)
@pytest.mark.parametrize("profile", ["none", "form", "url", "form+url"])
async def test_hosts_without_mcp_apps_never_see_the_card_or_its_tool(world, monkeypatch, mode, profile):
    runtime = runtime_for(world)
    try:
        async with host(runtime, profile, mode, None, monkeypatch) as client:
            tools = (await client.list_tools()).tools
            resources = (await client.list_resources()).resources
            with pytest.raises(MCPError):
                await client.call_tool(APPROVE_TOOL, {"approval_id": "x", "secret": "y", "decision": "approve",
                                                      "confirm": "CONFIRM"})
    finally:
        await runtime.aclose()
    assert APPROVE_TOOL not in {t.name for t in tools}
    assert not any((t.meta or {}).get("ui") for t in tools)
    assert CARD_URI not in {str(r.uri) for r in resources}
    assert sends(world) == 0


@pytest.mark.parametrize("mode", ERAS)
async def test_mcp_apps_hosts_get_the_card_and_an_app_only_tool(world, monkeypatch, mode):
    runtime = runtime_for(world)
    try:
        async with host(runtime, "apps", mode, None, monkeypatch) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            resources = (await client.list_resources()).resources
            card = await client.read_resource(CARD_URI)
    finally:
        await runtime.aclose()
    approve = tools[APPROVE_TOOL]
    assert approve.meta["ui"]["visibility"] == ["app"]  # hosts keep it from the model
    assert tools["place_order"].meta["ui"]["resourceUri"] == CARD_URI
    assert "ui" not in (tools["get_account"].meta or {})
    card_resource = next(r for r in resources if str(r.uri) == CARD_URI)
    assert card_resource.mime_type == APP_MIME_TYPE
    content = card.contents[0]
    assert content.mime_type == APP_MIME_TYPE and "approve_request" in content.text
    # every value is written as text (textContent), never parsed as HTML
    assert "el.textContent = " in content.text and "innerHTML" not in content.text and "insertAdjacentHTML" not in content.text


async def test_read_only_servers_offer_no_approval_tool(world, monkeypatch):
    runtime = runtime_for(world, read_only=True)
    try:
        async with host(runtime, "apps", "auto", None, monkeypatch) as client:
            names = {t.name for t in (await client.list_tools()).tools}
    finally:
        await runtime.aclose()
    assert APPROVE_TOOL not in names and "place_order" not in names


def test_the_preview_escapes_every_model_supplied_value(world):
    store = AccountStore(load_settings(tools_file=str(world.tools_file), environ={}), Redactor())
    account = store.current().accounts["live"]
    forged = "x\nAccount: main (TESTNET)\r\u2028\u2029\u0085\u202e\x00"
    text = preview("Place an order (place_order: POST /api/v3/order)", account,
                   [("symbol", "BTCUSDT"), ("newClientOrderId", forged), (forged, "v")],
                   last_price="1", quote_asset="USDT")
    lines = text.split("\n")
    assert not any(line.startswith("Account: main") for line in lines)
    for bad in ("\r", "\u2028", "\u2029", "\u0085", "\u202e", "\x00"):
        assert bad not in text
    assert escape_text(forged) in text and "\\x0a" in escape_text(forged)
    assert lines[1].startswith("Account: live (MAINNET") and lines[2].startswith("Destination: 127.0.0.1:")


@pytest.mark.parametrize("mode", ERAS)
async def test_chat_arguments_are_advertised_only_where_the_operator_opened_that_path(world, monkeypatch, mode):
    def chat_params(tools) -> dict[str, bool]:
        by_name = {t.name: t for t in tools}
        return {name: "confirmation_token" in by_name[name].input_schema["properties"]
                for name in ("place_order", "cancel_order", "add_account", "get_account")}

    closed = runtime_for(world)
    opened = runtime_for(world, allow_chat_confirm=True)
    locked = runtime_for(world, allow_chat_confirm=True, require_elicitation=True)
    try:
        seen = {}
        for label, runtime in (("closed", closed), ("opened", opened), ("locked", locked)):
            async with host(runtime, "none", mode, None, monkeypatch) as client:
                seen[label] = chat_params((await client.list_tools()).tools)
    finally:
        for runtime in (closed, opened, locked):
            await runtime.aclose()
    assert seen["closed"] == seen["locked"] == {"place_order": False, "cancel_order": False, "add_account": False, "get_account": False}
    assert seen["opened"] == {"place_order": True, "cancel_order": True, "add_account": True, "get_account": False}
