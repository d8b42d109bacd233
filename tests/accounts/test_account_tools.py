"""The account tools through a real MCP client: list, show (masked), add (usable at once)."""

from __future__ import annotations

import os

import pytest

from tests.e2e_support import ERAS, memory_client, random_token, result_json, transcript

pytestmark = pytest.mark.anyio




@pytest.mark.parametrize("mode", ERAS)
async def test_list_and_show_never_reveal_keys(world, mode):
    keys = world.keys
    async with memory_client(world.tools_file, mode, world.base_url) as client:
        listed = await client.call_tool("list_accounts", {})
        shown = await client.call_tool("show_account", {"account": "main"})
        shown_rsa = await client.call_tool("show_account", {"account": "rsa"})
        default = await client.call_tool("show_account", {})
    accounts = result_json(listed)["accounts"]
    assert accounts == [
        {"name": "main", "environment": "testnet"}, {"name": "rsa", "environment": "testnet"},
        {"name": "ed", "environment": "demo"}, {"name": "live", "environment": "mainnet"},
    ]
    main = result_json(shown)
    assert main["api_key"] == f"{keys.hmac_api_key[:5]}...{keys.hmac_api_key[-4:]}"
    assert main["secret"] == f"***...{keys.hmac_secret[-5:]}"
    assert main["signing"] == "HMAC_SHA256" and main["environment"] == "testnet"
    assert result_json(shown_rsa)["signing"] == "RSA" and result_json(default)["account"] == "main"
    text = transcript([listed, shown, shown_rsa, default])
    for secret in keys.sensitive():
        assert secret not in text


@pytest.mark.parametrize("mode", ERAS)
async def test_added_account_is_usable_at_once_and_file_is_kept(world, mode):
    api_key, secret = random_token(), random_token()
    world.exchange.add_account(api_key, hmac_secret=secret)
    credentials = world.tools_file.parent / "new-keys.txt"
    credentials.write_text(f"{api_key}\n{secret}\n")
    before = world.tools_file.read_text()
    async with memory_client(world.tools_file, mode, world.base_url) as client:
        added = await client.call_tool(
            "add_account", {"name": "fresh", "environment": "testnet", "credentials_file": str(credentials),
                            "description": "added from a file"}
        )
        duplicate = await client.call_tool(
            "add_account", {"name": "fresh", "environment": "testnet", "credentials_file": str(credentials)}
        )
        used = await client.call_tool("get_account", {"account": "fresh"})
    body = result_json(added)
    assert not added.is_error and body["usable_now"] is True
    assert body["api_key"] == f"{api_key[:5]}...{api_key[-4:]}" and body["secret"] == f"***...{secret[-5:]}"
    assert "never entered the chat" in body["note"]
    assert duplicate.is_error and "fresh" in result_json(duplicate)["message"]
    assert not used.is_error and "balances" in result_json(used)
    after = world.tools_file.read_text()
    assert after.startswith(before.rstrip("\n")) and "### fresh" in after
    assert oct(os.stat(world.tools_file).st_mode & 0o777) == "0o600"
    text = transcript([added, duplicate, used])
    assert api_key not in text and secret not in text


async def test_keys_given_in_chat_are_masked_and_the_cli_is_recommended(world):
    api_key, secret = random_token(), random_token()
    async with memory_client(world.tools_file, "auto", world.base_url) as client:
        added = await client.call_tool(
            "add_account", {"name": "chatty", "environment": "demo", "api_key": api_key, "secret": secret}
        )
        bad = await client.call_tool(
            "add_account", {"name": "both", "environment": "demo", "api_key": api_key, "secret": secret,
                            "private_key_file": "x.pem"}
        )
    body = result_json(added)
    assert "binance-spot-mcp accounts add" in body["note"]
    assert bad.is_error and result_json(bad)["parameter"] == "secret"
    text = transcript([added, bad])
    assert api_key not in text and secret not in text
