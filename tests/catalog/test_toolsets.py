"""Toolsets, read-only mode and the size of the tool list.

Unit level: which tools a selection offers. End to end: what a real client sees listed and what
it can call, in memory (both eras) and over stdio through the console script."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from mcp.shared.exceptions import MCPError

from binance_spot_mcp.accounts.tools import NAMES as ACCOUNT_TOOL_NAMES
from binance_spot_mcp.catalog.endpoints import load_catalog
from binance_spot_mcp.catalog.toolsets import Selection, list_size, size_markdown
from binance_spot_mcp.config import load_settings
from binance_spot_mcp.errors import ConfigError
from binance_spot_mcp.server.tool_list import build_tools, offered_tools, tool_list_sizes
from binance_spot_mcp.streams.tools import NAMES as STREAM_TOOL_NAMES
from tests.e2e_support import ERAS, memory_client, result_json, stdio_client_for

ROOT = Path(__file__).resolve().parents[2]
CATALOG = load_catalog()
MAX_TOOL_LIST_CHARS = 48_000
WRITERS = {e.tool for e in CATALOG.endpoints if e.changes_state} | {"add_account"}


def names(selection: Selection) -> set[str]:
    return {t.name for t in offered_tools(CATALOG, selection)}


def test_every_tool_is_in_exactly_one_declared_toolset():
    assert set(CATALOG.toolsets) == {"market", "account", "trade", "order_lists", "admin", "streams"}
    seen: dict[str, str] = {}
    for toolset in CATALOG.toolsets:
        for tool in names(Selection((toolset,))):
            assert tool not in seen, f"{tool} is in {seen.get(tool)} and {toolset}"
            seen[tool] = toolset
    assert set(seen) == {t.name for t in build_tools(CATALOG)}
    assert len(seen) == 58  # 48 endpoints and 10 server tools, get_portfolio included


def test_toolset_contents_follow_security_and_purpose():
    public = {e.tool for e in CATALOG.endpoints if not e.signed}
    assert names(Selection(("market",))) == public
    account = names(Selection(("account",)))
    assert "get_account" in account and "get_open_order_lists" in account
    assert "get_portfolio" in account  # the portfolio wing's own tool reads the account too
    assert all(not CATALOG.get(t).changes_state and CATALOG.get(t).signed for t in account - {"get_portfolio"})
    assert names(Selection(("admin",))) == set(ACCOUNT_TOOL_NAMES) | {"get_safety_status"}
    assert names(Selection(("streams",))) == set(STREAM_TOOL_NAMES)
    assert names(Selection(("streams",), read_only=True)) == set(STREAM_TOOL_NAMES)  # streams only read
    assert {"place_order", "cancel_order", "test_order", "place_sor_order"} <= names(Selection(("trade",)))
    assert {"place_order_list_oco", "cancel_order_list"} <= names(Selection(("order_lists",)))


def test_read_only_removes_every_writer_and_wins_over_toolsets():
    read_only = names(Selection(None, read_only=True))
    assert read_only == {t.name for t in build_tools(CATALOG)} - WRITERS
    assert len(WRITERS) == 14  # 13 state-changing endpoints + add_account
    # trade + read-only leaves only the two order checks, which never reach the matching engine
    assert names(Selection(("trade", "order_lists"), read_only=True)) == {"test_order", "test_sor_order"}
    assert names(Selection(("admin",), read_only=True)) == {"list_accounts", "show_account", "get_safety_status"}


def test_unknown_toolset_is_a_config_error_naming_the_known_ones():
    with pytest.raises(ConfigError, match=r"unknown toolset\(s\): trading; known: market, account, trade"):
        offered_tools(CATALOG, Selection(("market", "trading")))


def test_settings_read_toolsets_from_flag_then_environment(tmp_path):
    env = {"BINANCE_SPOT_MCP_TOOLSETS": " Market , account,market ", "BINANCE_SPOT_MCP_READ_ONLY": "yes"}
    settings = load_settings(tools_file=str(tmp_path / "T.md"), environ=env)
    assert settings.toolsets == ("market", "account") and settings.read_only is True
    flagged = load_settings(tools_file=str(tmp_path / "T.md"), environ=env, toolsets="trade")
    assert flagged.toolsets == ("trade",)
    assert load_settings(environ={"BINANCE_SPOT_MCP_TOOLSETS": "all"}).toolsets is None
    assert load_settings(environ={}).toolsets is None and load_settings(environ={}).read_only is False
    assert load_settings(environ={}, read_only=True).read_only is True
    with pytest.raises(ConfigError, match="BINANCE_SPOT_MCP_TOOLSETS: 'a;b' is not a toolset name"):
        load_settings(environ={"BINANCE_SPOT_MCP_TOOLSETS": "a;b"})


# -- size --------------------------------------------------------------------------------------


def test_whole_tool_list_fits_the_budget():
    size = list_size(build_tools(CATALOG))
    assert size <= MAX_TOOL_LIST_CHARS, f"tools/list is {size} characters; the budget is {MAX_TOOL_LIST_CHARS}"


def test_docs_state_the_measured_sizes():
    tools_doc = (ROOT / "docs" / "tools.md").read_text()
    block = re.search(r"<!-- tool-list-sizes:start -->\n(.*?)\n<!-- tool-list-sizes:end -->", tools_doc, re.S)
    assert block, "docs/tools.md lacks the tool-list size table"
    measured = size_markdown(tool_list_sizes(CATALOG))
    assert block.group(1) == measured, "sizes are stale: paste `binance-spot-mcp tools --sizes` into docs/tools.md"


def test_size_table_sums_and_cli_prints_it():
    rows = {r.name: r for r in tool_list_sizes(CATALOG)}
    assert rows["all"].tools == 58 and rows["all"].chars == list_size(build_tools(CATALOG))
    assert sum(rows[name].tools for name in CATALOG.toolsets) == 58
    assert rows["all, --read-only"].tools == 58 - len(WRITERS)
    done = subprocess.run(
        [sys.executable, "-m", "binance_spot_mcp", "tools", "--sizes"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and done.stdout.strip() == size_markdown(list(rows.values()))


def test_descriptions_are_short_and_free_of_boilerplate():
    for tool in build_tools(CATALOG):
        text = tool.description or ""
        assert text.endswith(".") and text.count(". ") == 0 and len(text) <= 110, tool.name
        for name, prop in tool.input_schema["properties"].items():
            assert "pattern" not in prop
            assert len(prop.get("description", "")) <= 60, f"{tool.name}.{name}"


# -- end to end --------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ERAS)
async def test_tool_list_a_client_receives_fits_the_budget(world, mode):
    """Measured on what the client got, envelope included (the 2026 era adds server info and cache hints)."""
    async with memory_client(world.tools_file, mode, base_url=world.base_url) as client:
        listed = await client.list_tools()
    received = len(listed.model_dump_json(by_alias=True, exclude_none=True))
    assert len(listed.tools) == 58
    assert list_size(build_tools(CATALOG)) <= received <= MAX_TOOL_LIST_CHARS
    assert received - list_size(build_tools(CATALOG)) < 200  # only the envelope differs


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ERAS)
async def test_client_sees_only_the_chosen_toolsets(world, mode):
    env = {"BINANCE_SPOT_MCP_TOOLSETS": "market,admin"}
    async with memory_client(world.tools_file, mode, base_url=world.base_url, extra_env=env) as client:
        listed = {t.name for t in (await client.list_tools()).tools}
        assert listed == {e.tool for e in CATALOG.endpoints if not e.signed} | set(ACCOUNT_TOOL_NAMES) | {"get_safety_status"}
        price = await client.call_tool("get_ticker_price", {"symbol": "BTCUSDT"})
        assert not price.is_error and result_json(price)["symbol"] == "BTCUSDT"
        before = len(world.exchange.requests)
        with pytest.raises(MCPError, match=r"get_account is not enabled on this server \(toolsets market, admin\)"):
            await client.call_tool("get_account", {})
        assert len(world.exchange.requests) == before


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ERAS)
async def test_read_only_server_cannot_change_anything(world, mode):
    env = {"BINANCE_SPOT_MCP_READ_ONLY": "1"}
    async with memory_client(world.tools_file, mode, base_url=world.base_url, extra_env=env) as client:
        assert "This server is read-only" in (client.instructions or "")
        listed = {t.name for t in (await client.list_tools()).tools}
        assert not listed & WRITERS and {"get_account", "test_order", "list_accounts"} <= listed
        before = (len(world.exchange.requests), world.exchange.orders_placed)
        order = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001", "account": "main"}
        with pytest.raises(MCPError, match=r"place_order is not enabled on this server \(all toolsets, read-only\)"):
            await client.call_tool("place_order", order)
        with pytest.raises(MCPError, match="add_account is not enabled"):
            await client.call_tool("add_account", {"name": "x", "environment": "testnet"})
        assert (len(world.exchange.requests), world.exchange.orders_placed) == before
        assert "### x" not in world.tools_file.read_text()
        checked = await client.call_tool("test_order", order)
        assert not checked.is_error, checked


@pytest.mark.anyio
async def test_stdio_flags_choose_the_tools(world):
    async with stdio_client_for(world.tools_file, "legacy", base_url=world.base_url) as (client, _):
        assert len((await client.list_tools()).tools) == 58
    flags = ["serve", "--toolsets", "account,admin", "--read-only"]
    async with stdio_client_for(world.tools_file, "auto", base_url=world.base_url, extra_args=flags) as (client, _):
        listed = {t.name for t in (await client.list_tools()).tools}
        assert listed == names(Selection(("account",))) | {"list_accounts", "show_account", "get_safety_status"}
        account = await client.call_tool("get_account", {"omitZeroBalances": True})
        assert not account.is_error and "balances" in result_json(account)


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ERAS)
async def test_stdio_read_only_env_with_toolsets(world, mode):
    env = {"BINANCE_SPOT_MCP_TOOLSETS": "trade", "BINANCE_SPOT_MCP_READ_ONLY": "true"}
    async with stdio_client_for(world.tools_file, mode, extra_env=env, base_url=world.base_url) as (client, _):
        assert {t.name for t in (await client.list_tools()).tools} == {"test_order", "test_sor_order"}


def test_cli_rejects_an_unknown_toolset_before_serving(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "binance_spot_mcp", "--toolsets", "market,bogus", "serve"],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, cwd=tmp_path,
    )
    assert done.returncode == 2
    assert "unknown toolset(s): bogus; known: market, account, trade, order_lists, admin" in done.stderr
    assert done.stdout == ""


def test_cli_tools_lists_what_a_configuration_offers(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "binance_spot_mcp", "--read-only", "--toolsets", "account,admin", "tools"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "get_account" in done.stdout and "place_order " not in done.stdout
    assert "14 of 48 endpoints" in done.stdout
    assert "server tools: get_portfolio, get_safety_status, list_accounts, show_account" in done.stdout
