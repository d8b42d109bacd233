"""What a host sees when the accounts are paper accounts: the tools that can work with them, and
account tools that say what a paper account is (no key, live prices, nothing sent)."""

from __future__ import annotations

import pytest
from binance_spot_mcp.config import load_settings
from binance_spot_mcp.server.runtime import Runtime, build_server
from mcp import Client

from tests.e2e_support import memory_client
from tests.paper.paper_support import result, write_paper_tools

pytestmark = pytest.mark.anyio
PAPER_CANNOT = {"place_sor_order", "test_sor_order", "place_oco_deprecated", "place_order_list_oto",
                "place_order_list_otoco", "place_order_list_opo", "place_order_list_opoco", "get_allocations",
                "get_my_filters"}


async def test_paper_only_accounts_list_only_what_paper_can_do_and_a_real_account_lists_all(tmp_path, fake_exchange, keys):
    paper = "### main\n- Environment: paper\n"
    tools = write_paper_tools(tmp_path, fake_exchange.base_url, paper)
    async with memory_client(tools, "legacy", fake_exchange.base_url) as client:
        listed = {t.name for t in (await client.list_tools()).tools}
        assert not listed & PAPER_CANNOT and "place_order_list_oco" in listed and "cancel_replace_order" in listed
        refused = await client.call_tool("place_sor_order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "1"})
        assert refused.is_error and "not available on paper accounts" in refused.content[0].text
        shown = result(await client.call_tool("show_account", {"account": "main"}))
        assert shown["api_key"] == "none (paper account)" and shown["environment"] == "paper"
        assert "nothing is signed or sent" in shown["note"]

        real = (f"### live\n- API Key: {keys.hmac_api_key}\n- Secret: {keys.hmac_secret}\n- Environment: testnet\n"
                f"- Base URL: {fake_exchange.base_url}\n")
        write_paper_tools(tmp_path, fake_exchange.base_url, paper, real)  # re-read without a restart
        listed = {t.name for t in (await client.list_tools()).tools}
        assert PAPER_CANNOT <= listed


async def test_a_named_tools_file_not_written_yet_leaves_the_paper_account_to_trade_on(tmp_path, fake_exchange):
    async with memory_client(tmp_path / "absent" / "TOOLS.md", "legacy", fake_exchange.base_url) as client:
        listed = result(await client.call_tool("list_accounts", {}))
    # The quick start names --tools-file before the file exists: paper is there until it does.
    assert listed["accounts"] == [{"name": "paper", "environment": "paper"}]


async def test_with_no_tools_file_list_accounts_names_the_built_in_paper_account(tmp_path, fake_exchange):
    environ = {"BINANCE_SPOT_MCP_JOURNAL": str(tmp_path / "journal.jsonl"),
               "BINANCE_SPOT_MCP_MAINNET_BASE_URL": fake_exchange.base_url}
    runtime = Runtime(settings=load_settings(environ=environ, cwd=tmp_path))
    try:
        async with Client(build_server(runtime), mode="legacy") as client:
            listed = result(await client.call_tool("list_accounts", {}))
    finally:
        await runtime.aclose()
    assert listed["accounts"] == [{"name": "paper", "environment": "paper"}]
    assert "built-in paper account 'paper'" in listed["note"] and "no real money" in listed["note"]
