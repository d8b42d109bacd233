"""The rules follow the Binance account (the API key), not the TOOLS.md entry's name (issue 22, item 2).

Entries that share a key share its strictest rules and one daily total; daily totals are counted
per (environment, API key), so a `main` in another TOOLS.md writing the same journal does not
spend this `main`'s budget; `add_account` over MCP refuses a key that is already configured.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest

from tests.e2e_support import memory_client, result_json
from tests.guard.test_guard_rails import SMALL_BUY, refused, with_account, writes

pytestmark = pytest.mark.anyio


async def test_a_second_entry_for_the_key_gets_the_first_ones_caps(world):
    with_account(world, "capped", "Max Order Value: 100 USDT")
    with_account(world, "clone")  # the same key, no rules of its own
    async with memory_client(world.tools_file, "legacy", world.base_url) as client:
        body = refused(await client.call_tool("place_order", {**SMALL_BUY, "quantity": "0.01", "account": "clone"}),
                       "max order value")
        status = result_json(await client.call_tool("get_safety_status", {}))
    assert "account 'capped' (same API key)" in body["message"] and writes(world) == []
    row = next(a for a in status["accounts"] if a["account"] == "clone")
    assert row["policy"]["max_order_value"] == ["100 USDT (account 'capped' (same API key))"]


@pytest.mark.parametrize("rule", ["Allowed Symbols: ETH*", "Denied Symbols: BTC*"])
async def test_a_second_entry_for_the_key_gets_the_first_ones_symbol_lists(world, rule):
    with_account(world, "listed", rule)
    with_account(world, "clone")
    async with memory_client(world.tools_file, "legacy", world.base_url) as client:
        refused(await client.call_tool("place_order", {**SMALL_BUY, "account": "clone"}), "symbol list")
    assert writes(world) == []


async def test_a_second_entry_for_the_key_is_in_dry_run_and_confirm_always_too(world):
    with_account(world, "rehearsal", "Dry Run: true")
    with_account(world, "clone")
    async with memory_client(world.tools_file, "legacy", world.base_url) as client:
        body = result_json(await client.call_tool("place_order", {**SMALL_BUY, "account": "clone"}))
        assert body["dry_run"] is True and body["sent"] is False
        assert "account 'rehearsal' (same API key) has 'Dry Run: true'" in body["note"]
    assert writes(world) == []


async def test_confirm_always_follows_the_key(world):
    with_account(world, "careful", "Confirm: always")
    with_account(world, "clone")
    async with memory_client(world.tools_file, "legacy", world.base_url) as client:  # no approval channel here
        result = await client.call_tool("place_order", {**SMALL_BUY, "account": "clone"})
    assert result.is_error and writes(world) == []


async def test_entries_sharing_a_key_share_one_daily_total(world):
    with_account(world, "daily", "Max Daily Value: 150 USDT")
    with_account(world, "clone")
    async with memory_client(world.tools_file, "legacy", world.base_url) as client:
        assert not (await client.call_tool("place_order", {**SMALL_BUY, "account": "daily"})).is_error
        assert not (await client.call_tool("place_order", {**SMALL_BUY, "account": "clone"})).is_error
        body = refused(await client.call_tool("place_order", {**SMALL_BUY, "account": "clone"}), "max daily value")
        again = refused(await client.call_tool("place_order", {**SMALL_BUY, "account": "daily"}), "max daily value")
    assert body["spent_24h"] == again["spent_24h"] == "108" and len(writes(world)) == 2


def _other_tools_file(world, *, environment: str, api_key: str, secret: str) -> Path:
    """A second TOOLS.md beside the first (so both servers write the same journal) whose `main`
    has a 100 USDT daily cap."""
    path = world.tools_file.parent / "OTHER.md"
    path.write_text(f"## Binance Accounts\n\n### main\n- API Key: {api_key}\n- Secret: {secret}\n"
                    f"- Environment: {environment}\n- Base URL: {world.base_url}\n- Max Daily Value: 100 USDT\n")
    path.chmod(0o600)
    return path


@pytest.mark.parametrize("other", ["same key, demo", "other key, testnet"])
async def test_a_main_in_another_tools_file_does_not_spend_this_mains_daily_cap(world, other):
    if other == "same key, demo":
        api_key, secret, environment = world.keys.hmac_api_key, world.keys.hmac_secret, "demo"
    else:
        api_key, secret, environment = secrets.token_hex(32), secrets.token_hex(32), "testnet"
        world.exchange.add_account(api_key, hmac_secret=secret)
    other_file = _other_tools_file(world, environment=environment, api_key=api_key, secret=secret)
    text = world.tools_file.read_text().replace("- Description: HMAC testnet account\n",
                                                "- Description: HMAC testnet account\n- Max Daily Value: 100 USDT\n")
    world.tools_file.write_text(text)
    async with memory_client(other_file, "legacy", world.base_url) as client:
        assert not (await client.call_tool("place_order", SMALL_BUY)).is_error  # 54 of the other main's 100
    async with memory_client(world.tools_file, "legacy", world.base_url) as client:
        placed = await client.call_tool("place_order", SMALL_BUY)
        assert not placed.is_error, placed  # this main has spent nothing yet
        body = refused(await client.call_tool("place_order", SMALL_BUY), "max daily value")
    assert body["spent_24h"] == "54" and len(writes(world)) == 2


def _creds(tmp_path: Path, api_key: str, secret: str) -> Path:
    path = tmp_path / "creds.txt"
    path.write_text(f"{api_key}\n{secret}\n")
    path.chmod(0o600)
    return path


@pytest.mark.parametrize("how", ["credentials_file", "api_key"])
async def test_add_account_refuses_a_key_that_is_already_configured(world, tmp_path, how):
    with_account(world, "capped", "Max Order Value: 100 USDT")
    before = world.tools_file.read_text()
    if how == "credentials_file":
        keys: dict[str, Any] = {"credentials_file": str(_creds(tmp_path, world.keys.hmac_api_key, world.keys.hmac_secret))}
    else:
        keys = {"api_key": world.keys.hmac_api_key, "secret": world.keys.hmac_secret}
    async with memory_client(world.tools_file, "legacy", world.base_url) as client:
        result = await client.call_tool("add_account", {"name": "clone", "environment": "demo", **keys})
    body = result_json(result)
    assert result.is_error and "already configured as account 'main'" in body["message"], body
    assert "accounts add" in body["hint"] and world.tools_file.read_text() == before
    for value in world.keys.sensitive():
        assert value not in result.content[0].text


async def test_add_account_still_takes_a_new_key(world, tmp_path):
    api_key, secret = secrets.token_hex(32), secrets.token_hex(32)
    async with memory_client(world.tools_file, "legacy", world.base_url) as client:
        result = await client.call_tool("add_account", {"name": "fresh", "environment": "testnet",
                                                        "credentials_file": str(_creds(tmp_path, api_key, secret))})
    assert not result.is_error, result
    assert "### fresh" in world.tools_file.read_text()
