"""add_account over MCP: replacing an account, or adding a mainnet one, needs a human's approval;
every change keeps a 0600 backup and is journaled. Also: how the journal and its CLI show approvals."""

from __future__ import annotations

import json
import stat

import pytest

from binance_spot_mcp.accounts.store import AccountStore
from binance_spot_mcp.cli.listings import journal_line
from binance_spot_mcp.config import load_settings
from binance_spot_mcp.redact import Redactor
from tests.approval_support import Human, host, runtime_for, sends
from tests.e2e_support import ERAS, random_token, result_json, transcript

pytestmark = pytest.mark.anyio


def _live_key(world) -> str:
    store = AccountStore(load_settings(tools_file=str(world.tools_file), environ={}), Redactor())
    return store.current().accounts["live"].api_key


def _new_keys() -> dict[str, str]:
    return {"api_key": random_token(), "secret": random_token()}


@pytest.mark.parametrize("mode", ERAS)
async def test_replacing_an_account_without_a_channel_is_refused_and_the_file_kept(world, monkeypatch, mode):
    before = world.tools_file.read_bytes()
    runtime = runtime_for(world)
    try:
        async with host(runtime, "none", mode, None, monkeypatch) as client:
            repoint = await client.call_tool("add_account", {"name": "main", "environment": "testnet", "replace": True, **_new_keys()})
            mainnet = await client.call_tool("add_account", {"name": "fresh-live", "environment": "mainnet", **_new_keys()})
            plain = await client.call_tool("add_account", {"name": "main", "environment": "testnet", **_new_keys()})
    finally:
        await runtime.aclose()
    assert result_json(repoint)["error"] == "not_confirmed" and result_json(mainnet)["error"] == "not_confirmed"
    assert result_json(plain)["error"] == "invalid_arguments" and "already exists" in result_json(plain)["message"]
    assert world.tools_file.read_bytes() == before
    assert not (world.tools_file.parent / "TOOLS.md.bak").exists()


@pytest.mark.parametrize("mode", ERAS)
async def test_a_new_testnet_account_needs_no_approval_and_is_journaled(world, monkeypatch, mode):
    runtime = runtime_for(world)
    try:
        async with host(runtime, "none", mode, None, monkeypatch) as client:
            added = await client.call_tool("add_account", {"name": "extra", "environment": "testnet", **_new_keys()})
    finally:
        await runtime.aclose()
    body = result_json(added)
    assert not added.is_error and body["added"] == "extra"
    change = [e for e in runtime.journal.latest(5) if e["phase"] == "account_change"][-1]
    assert change["action"] == "add" and change["account"] == "extra" and change["approved_via"] == "not required"
    backup = world.tools_file.parent / "TOOLS.md.bak"
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600 and "### extra" not in backup.read_text()


@pytest.mark.parametrize("mode", ERAS)
@pytest.mark.parametrize("profile", ["form", "url"])
async def test_an_approved_replacement_keeps_a_backup_and_is_journaled(world, monkeypatch, mode, profile):
    old_text = world.tools_file.read_text()
    old_key = _live_key(world)
    human = Human("approve")
    keys = _new_keys()
    runtime = runtime_for(world)
    try:
        async with host(runtime, profile, mode, human, monkeypatch) as client:
            result = await client.call_tool("add_account", {"name": "live", "environment": "mainnet", "replace": True, **keys})
    finally:
        await runtime.aclose()
    body = result_json(result)
    assert not result.is_error and body["replaced"] == "live" and body["approved_via"] == profile.split("+")[0]
    shown = human.asked[-1]
    assert "Replace the Binance account 'live'" in shown and "mainnet -> mainnet" in shown
    assert keys["api_key"][:5] + "..." in shown and keys["api_key"] not in shown and keys["secret"] not in shown
    assert _live_key(world) == keys["api_key"] and old_key != keys["api_key"]
    backup = world.tools_file.parent / "TOOLS.md.bak"
    assert backup.read_text() == old_text and stat.S_IMODE(backup.stat().st_mode) == 0o600
    change = [e for e in runtime.journal.latest(5) if e["phase"] == "account_change"][-1]
    assert change["action"] == "replace" and change["approved_via"] == profile.split("+")[0] and change["approval_id"]
    assert old_key not in transcript([result]) and keys["secret"] not in json.dumps(change)


@pytest.mark.parametrize("mode", ERAS)
@pytest.mark.parametrize("answer", ["decline", "cancel", "wrong_text"])
async def test_a_replacement_the_human_does_not_approve_changes_nothing(world, monkeypatch, mode, answer):
    before = world.tools_file.read_bytes()
    runtime = runtime_for(world)
    try:
        async with host(runtime, "form", mode, Human(answer), monkeypatch) as client:
            result = await client.call_tool("add_account", {"name": "main", "environment": "mainnet", "replace": True, **_new_keys()})
    finally:
        await runtime.aclose()
    assert result_json(result)["error"] == "not_confirmed"
    assert world.tools_file.read_bytes() == before


async def test_a_replacement_approved_in_the_card(world, monkeypatch):
    runtime = runtime_for(world)
    keys = _new_keys()
    human = Human("approve")
    try:
        async with host(runtime, "apps", "legacy", human, monkeypatch) as client:
            pending = await client.call_tool("add_account", {"name": "main", "environment": "testnet", "replace": True, **keys})
            assert result_json(pending)["status"] == "approval_pending"
            assert keys["api_key"] not in world.tools_file.read_text()
            done = await human.use_card(client, pending)
    finally:
        await runtime.aclose()
    assert not done.is_error and result_json(done)["approved_via"] == "app"
    assert keys["api_key"] in world.tools_file.read_text()


@pytest.mark.parametrize("mode", ERAS)
async def test_the_journal_records_how_each_order_was_approved(world, monkeypatch, mode):
    runtime = runtime_for(world)
    try:
        async with host(runtime, "form", mode, Human("approve"), monkeypatch) as client:
            await client.call_tool("cancel_open_orders", {"symbol": "BTCUSDT", "account": "live"})
            await client.call_tool("cancel_open_orders", {"symbol": "BTCUSDT"})  # main: testnet
    finally:
        await runtime.aclose()
    intents = [e for e in runtime.journal.latest(10) if e["phase"] == "intent"]
    assert [(e["account"], e["approved_via"]) for e in intents] == [("live", "form"), ("main", "not required")]
    assert intents[0]["approval_id"] and intents[1]["approval_id"] is None
    assert "approved via form" in journal_line(intents[0])
    assert sends(world) == 2


def test_the_journal_cli_shows_control_characters_escaped():
    entry = {"ts": "t", "id": "i", "phase": "intent", "tool": "place_order", "account": "live",
             "environment": "mainnet", "method": "POST", "path": "/api/v3/order",
             "params": {"newClientOrderId": "a\nFAKE LINE\u2028b\x1b[31m"}, "approved_via": "form", "approval_id": "x"}
    line = journal_line(entry)
    assert "\n" not in line and "\u2028" not in line and "\x1b" not in line
    assert "\\x0aFAKE LINE\\u2028b\\x1b[31m" in line
