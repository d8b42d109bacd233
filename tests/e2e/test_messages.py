"""Messages that tell the model what to do next (issue 11, item 7): unknown parameters list what a
tool takes, hints name the tool's own parameters and fit the tool, a missing TOOLS.md is said,
and an account's problems are all reported."""

from __future__ import annotations

import pytest

from binance_spot_mcp.errors import BINANCE_HINTS, hint_for
from tests.e2e_support import ERAS, memory_client, random_token, result_json

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("mode", ERAS)
async def test_show_account_with_an_unknown_parameter_lists_what_it_takes(world, mode):
    async with memory_client(world.tools_file, mode, world.base_url) as client:
        result = await client.call_tool("show_account", {"name": "main"})
    body = result_json(result)
    assert result.is_error and body["parameter"] == "name"
    assert body["message"] == "unknown parameter(s) name for show_account; it takes: account"


@pytest.mark.parametrize("mode", ERAS)
async def test_add_account_hints_name_the_tools_own_parameters(world, mode, tmp_path):
    credentials = tmp_path / "creds.txt"
    credentials.write_text(f"{random_token()}\n{random_token()}\n")
    async with memory_client(world.tools_file, mode, world.base_url) as client:
        result = await client.call_tool(
            "add_account", {"name": "main", "environment": "testnet", "credentials_file": str(credentials)}
        )
    body = result_json(result)
    assert result.is_error and "already exists" in body["message"]
    assert "replace: true" in body["hint"]


@pytest.mark.parametrize("mode", ERAS)
async def test_an_amend_error_hint_is_about_an_amend_not_a_cancel(world, mode):
    async with memory_client(world.tools_file, mode, world.base_url) as client:
        amended = await client.call_tool(
            "amend_order_keep_priority", {"symbol": "BTCUSDT", "orderId": 987654, "newQty": "0.001"}
        )
        cancelled = await client.call_tool("cancel_order", {"symbol": "BTCUSDT", "orderId": 987654})
    amend_body, cancel_body = result_json(amended), result_json(cancelled)
    assert amend_body["code"] == cancel_body["code"] == -2011  # Binance's code is the same ...
    assert amend_body["hint"].startswith("The amend was rejected") and "cancel was" not in amend_body["hint"]
    assert cancel_body["hint"] == BINANCE_HINTS[-2011]


def test_tool_specific_hints_fall_back_to_the_code_and_status():
    assert hint_for(400, -2011, "cancel_order") == BINANCE_HINTS[-2011]
    assert hint_for(400, -2011, None) == BINANCE_HINTS[-2011]
    assert "'data'" in hint_for(409, -2021, "cancel_replace_order")
    assert hint_for(429, None, "get_account").startswith("Rate limit")


@pytest.mark.parametrize("mode", ERAS)
async def test_list_accounts_says_when_tools_md_does_not_exist(tmp_path, fake_exchange, mode):
    missing = tmp_path / "TOOLS.md"
    async with memory_client(missing, mode, fake_exchange.base_url) as client:
        body = result_json(await client.call_tool("list_accounts", {}))
    assert body["accounts"] == [{"name": "paper", "environment": "paper"}]  # built in until the file exists
    assert f"{missing} does not exist" in body["note"] and "add_account" in body["note"]


@pytest.mark.parametrize("mode", ERAS)
async def test_an_account_with_several_problems_reports_all_of_them(world, mode):
    with world.tools_file.open("a") as handle:
        handle.write("\n### messy\n- API Key: short\n- Environment: moon\n- Colour: red\n")
    async with memory_client(world.tools_file, mode, world.base_url) as client:
        body = result_json(await client.call_tool("list_accounts", {}))
    problem = next(u["problem"] for u in body["unusable"] if u["name"] == "messy")
    for part in ("the API key has unexpected characters", "Environment must be",
                 "neither 'Secret' nor 'Private Key File'"):
        assert part in problem, problem
