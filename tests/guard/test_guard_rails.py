"""The operator's guard rails end to end: a real MCP client, the real server, the fake exchange.

Every cap and list on every state-changing tool kind; the daily cap across calls, across two
server processes sharing one journal and across a restart; dry run; the kill switch; orders
that cannot be valued; caps checked before approval and again at send time.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest

from binance_spot_mcp.cli.commands import main
from tests.e2e_support import ERAS, World, memory_client, result_json, stdio_client_for

pytestmark = pytest.mark.anyio

# BTCUSDT on the fake: last 60000, best bid 59970, best ask 60030.
GTC = {"timeInForce": "GTC"}
SMALL_BUY = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.001", "price": "54000", **GTC}  # 54


def with_account(world: World, name: str, *rules: str, environment: str = "testnet") -> None:
    """Add account ``name`` (the HMAC key of 'main') with guard-rail lines to the world's TOOLS.md."""
    lines = [f"### {name}", f"- API Key: {world.keys.hmac_api_key}", f"- Secret: {world.keys.hmac_secret}",
             f"- Environment: {environment}", f"- Base URL: {world.base_url}", *(f"- {r}" for r in rules)]
    world.tools_file.write_text(world.tools_file.read_text() + "\n" + "\n".join(lines) + "\n")


def set_rules(world: World, name: str, *rules: str) -> None:
    """Replace the guard-rail lines of account ``name`` (the server re-reads TOOLS.md by itself)."""
    text = world.tools_file.read_text()
    head, _, tail = text.partition(f"### {name}\n")
    block, sep, rest = tail.partition("\n### ")
    kept = [line for line in block.splitlines() if not line.startswith(("- Max", "- Allowed", "- Denied", "- Dry", "- Confirm"))]
    new_block = "\n".join(kept + [f"- {r}" for r in rules]) + "\n"
    world.tools_file.write_text(head + f"### {name}\n" + new_block + (sep + rest if sep else ""))


def writes(world: World) -> list[Any]:
    return [r for r in world.exchange.requests if r.method != "GET"]


def refused(result: Any, rule: str) -> dict[str, Any]:
    assert result.is_error, result
    body = result_json(result)
    assert body["error"] == "policy_refused" and body["rule"] == rule, body
    assert "Nothing was sent" in body["message"]
    return body


def journal(world: World) -> list[dict[str, Any]]:
    path = world.tools_file.parent / "journal.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# -- every state-changing tool kind against a 100 USDT order cap ----------------------------------

OVER_CAP = {
    "limit buy": ("place_order", {**SMALL_BUY, "quantity": "0.01"}),  # 540
    "market buy by quantity": ("place_order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.01"}),
    "market buy by quoteOrderQty": ("place_order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quoteOrderQty": "500"}),
    # 65 USDT at its own price, but a SELL far below the market fills at the market: ~300
    "limit sell priced far below the market": (
        "place_order", {"symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "quantity": "0.005", "price": "13000", **GTC}),
    "market sell by quantity": ("place_order", {"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET", "quantity": "0.005"}),
    "stop loss (market on trigger)": (
        "place_order", {"symbol": "BTCUSDT", "side": "SELL", "type": "STOP_LOSS", "quantity": "0.005", "stopPrice": "54000"}),
    "stop loss limit buy": (
        "place_order", {"symbol": "BTCUSDT", "side": "BUY", "type": "STOP_LOSS_LIMIT", "quantity": "0.01",
                        "price": "66000", "stopPrice": "66000", **GTC}),
    "pegged": ("place_order", {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.005",
                               "pegPriceType": "PRIMARY_PEG", **GTC}),
    "sor": ("place_sor_order", {**SMALL_BUY, "quantity": "0.01"}),
    "cancel-replace (the new order)": (
        "cancel_replace_order", {**SMALL_BUY, "quantity": "0.01", "cancelReplaceMode": "STOP_ON_FAILURE", "cancelOrderId": 1}),
    "oco (the larger leg)": (
        "place_order_list_oco", {"symbol": "BTCUSDT", "side": "SELL", "quantity": "0.01", "aboveType": "LIMIT_MAKER",
                                 "abovePrice": "66000", "belowType": "STOP_LOSS", "belowStopPrice": "54000"}),
    "oco, deprecated endpoint": (
        "place_oco_deprecated", {"symbol": "BTCUSDT", "side": "SELL", "quantity": "0.01", "price": "66000", "stopPrice": "54000"}),
    # each leg is under the cap (54 and 66); both can execute, so together 120
    "oto (working + pending)": (
        "place_order_list_oto", {"symbol": "BTCUSDT", "workingType": "LIMIT", "workingSide": "BUY", "workingPrice": "54000",
                                 "workingQuantity": "0.001", "workingTimeInForce": "GTC", "pendingType": "LIMIT_MAKER",
                                 "pendingSide": "SELL", "pendingQuantity": "0.001", "pendingPrice": "66000"}),
    "opo (pending takes the working quantity)": (
        "place_order_list_opo", {"symbol": "BTCUSDT", "workingType": "LIMIT", "workingSide": "BUY", "workingPrice": "54000",
                                 "workingQuantity": "0.001", "workingTimeInForce": "GTC", "pendingType": "LIMIT_MAKER",
                                 "pendingSide": "SELL", "pendingPrice": "66000"}),
    "otoco": (
        "place_order_list_otoco", {"symbol": "BTCUSDT", "workingType": "LIMIT", "workingSide": "BUY", "workingPrice": "54000",
                                   "workingQuantity": "0.001", "workingTimeInForce": "GTC", "pendingSide": "SELL",
                                   "pendingQuantity": "0.001", "pendingAboveType": "LIMIT_MAKER", "pendingAbovePrice": "66000",
                                   "pendingBelowType": "STOP_LOSS", "pendingBelowStopPrice": "50000"}),
    "opoco": (
        "place_order_list_opoco", {"symbol": "BTCUSDT", "workingType": "LIMIT", "workingSide": "BUY", "workingPrice": "54000",
                                   "workingQuantity": "0.001", "workingTimeInForce": "GTC", "pendingSide": "SELL",
                                   "pendingAboveType": "LIMIT_MAKER", "pendingAbovePrice": "66000",
                                   "pendingBelowType": "STOP_LOSS", "pendingBelowStopPrice": "50000"}),
}


@pytest.mark.parametrize("case", list(OVER_CAP))
async def test_order_cap_refuses_every_kind_of_order_and_sends_nothing(world, case):
    with_account(world, "capped", "Max Order Value: 100 USDT")
    tool, args = OVER_CAP[case]
    async with memory_client(world.tools_file, "legacy", world.base_url) as client:
        before = len(writes(world))
        body = refused(await client.call_tool(tool, {**args, "account": "capped"}), "max order value")
        assert len(writes(world)) == before
    assert Decimal(body["value"]) > 100 and body["cap"] == "100 USDT"
    assert "the cap per order (account) is 100 USDT" in body["message"]
    last = journal(world)[-2:]
    assert last[0]["policy"]["refused"] == "max order value" and last[1]["summary"]["not_sent"] == "policy_refused"


@pytest.mark.parametrize("mode", ERAS)
async def test_orders_under_the_cap_are_sent_and_their_value_journaled(world, mode):
    with_account(world, "capped", "Max Order Value: 100 USDT")
    async with memory_client(world.tools_file, mode, world.base_url) as client:
        placed = await client.call_tool("place_order", {**SMALL_BUY, "account": "capped"})
        assert not placed.is_error, placed
        oco = await client.call_tool("place_order_list_oco", {**OVER_CAP["oco (the larger leg)"][1], "quantity": "0.001",
                                                               "account": "capped"})
        assert not oco.is_error, oco
        # cancels are never valued or refused
        cancel = await client.call_tool("cancel_order", {"symbol": "BTCUSDT", "orderId": result_json(placed)["orderId"],
                                                          "account": "capped"})
        assert not cancel.is_error, cancel
    intents = [e for e in journal(world) if e["phase"] == "intent"]
    assert intents[0]["policy"]["value"] == {"USDT": "54"}
    assert Decimal(intents[1]["policy"]["value"]["USDT"]) == Decimal("66")  # the larger OCO leg
    assert "policy" not in intents[2]


async def test_amend_is_valued_with_its_new_quantity(world):
    with_account(world, "capped", "Max Order Value: 100 USDT")
    async with memory_client(world.tools_file, "legacy", world.base_url) as client:
        placed = result_json(await client.call_tool("place_order", {**SMALL_BUY, "quantity": "0.0015", "account": "capped"}))
        set_rules(world, "capped", "Max Order Value: 50 USDT")  # the operator tightens the cap
        amend = {"symbol": "BTCUSDT", "orderId": placed["orderId"], "account": "capped"}
        body = refused(await client.call_tool("amend_order_keep_priority", {**amend, "newQty": "0.001"}), "max order value")
        assert body["value"] == "54"
        ok = await client.call_tool("amend_order_keep_priority", {**amend, "newQty": "0.0005"})
        assert not ok.is_error, ok
    assert [r.path for r in writes(world)] == ["/api/v3/order", "/api/v3/order/amend/keepPriority"]


# -- symbol lists ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ERAS)
async def test_symbol_lists(world, mode):
    with_account(world, "listed", "Allowed Symbols: BTCUSDT, ETH*", "Denied Symbols: ETHBTC")
    eth = {"symbol": "ETHUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.01", "price": "2700", **GTC}
    async with memory_client(world.tools_file, mode, world.base_url) as client:
        assert not (await client.call_tool("place_order", {**eth, "account": "listed"})).is_error
        before = len(writes(world))
        body = refused(await client.call_tool("place_order", {**eth, "symbol": "BNBUSDT", "price": "540", "account": "listed"}),
                       "symbol list")
        assert "BNBUSDT is not in the allowed symbols (BTCUSDT, ETH*)" in body["message"]
        body = refused(await client.call_tool("place_order_list_oco", {
            "symbol": "ETHBTC", "side": "SELL", "quantity": "0.1", "aboveType": "LIMIT_MAKER", "abovePrice": "0.055",
            "belowType": "STOP_LOSS", "belowStopPrice": "0.045", "account": "listed"}), "symbol list")
        assert "matches the denied symbol pattern 'ETHBTC'" in body["message"]
        assert len(writes(world)) == before
        # cancelling on any symbol stays possible: Binance answers (no such order), the guard does not
        cancel = await client.call_tool("cancel_open_orders", {"symbol": "BNBUSDT", "account": "listed"})
        assert result_json(cancel).get("error") != "policy_refused"
        assert len(writes(world)) == before + 1


# -- the rolling 24-hour total ------------------------------------------------------------------


async def test_daily_cap_counts_placed_orders_and_says_what_remains(world):
    with_account(world, "daily", "Max Daily Value: 150 USDT")
    async with memory_client(world.tools_file, "auto", world.base_url) as client:
        first = await client.call_tool("place_order", {**SMALL_BUY, "account": "daily"})
        second = await client.call_tool("place_order", {**SMALL_BUY, "account": "daily"})
        assert not first.is_error and not second.is_error
        # a cancel does not give budget back: the order was placed
        await client.call_tool("cancel_order", {"symbol": "BTCUSDT", "orderId": result_json(first)["orderId"], "account": "daily"})
        # rejected by Binance (too small a notional): not counted
        rejected = await client.call_tool("place_order", {**SMALL_BUY, "quantity": "0.00001", "account": "daily"})
        assert rejected.is_error and result_json(rejected)["error"] != "policy_refused"
        body = refused(await client.call_tool("place_order", {**SMALL_BUY, "account": "daily"}), "max daily value")
        assert (body["spent_24h"], body["remaining"], body["cap"]) == ("108", "42", "150 USDT")
        assert "so 42 USDT remain" in body["message"]
        status = result_json(await client.call_tool("get_safety_status", {}))
    row = next(a for a in status["accounts"] if a["account"] == "daily")
    assert row["today"] == {"150 USDT": {"spent_24h": "108", "remaining": "42"}}
    assert row["approval"].startswith("none") and row["host"] == world.base_url.split("//")[1]
    assert status["server"]["trading"] == "on"
    for value in world.keys.sensitive():
        assert value not in json.dumps(status)


async def test_daily_cap_across_two_server_processes_and_a_restart(world):
    """Two stdio servers share one journal: the budget is shared, and a race for the last of it
    is won by exactly one of them; a restarted server still knows what was spent."""
    with_account(world, "daily", "Max Daily Value: 150 USDT")
    order = {**SMALL_BUY, "account": "daily"}
    async with stdio_client_for(world.tools_file, "legacy", base_url=world.base_url) as (a, _):
        async with stdio_client_for(world.tools_file, "auto", base_url=world.base_url) as (b, _):
            assert not (await a.call_tool("place_order", order)).is_error  # 54 of 150
            results: list[Any] = []

            async def place(client: Any) -> None:
                results.append(await client.call_tool("place_order", order))

            async with anyio.create_task_group() as group:  # 54 + 54 + 54 > 150: only one may win
                group.start_soon(place, a)
                group.start_soon(place, b)
            assert sorted(r.is_error for r in results) == [False, True]
            refused(next(r for r in results if r.is_error), "max daily value")
            assert len(world.exchange.orders_placed("BTCUSDT")) == 2  # 108 of 150
    async with stdio_client_for(world.tools_file, "legacy", base_url=world.base_url) as (again, _):
        body = refused(await again.call_tool("place_order", order), "max daily value")
        assert body["spent_24h"] == "108"
        small = await again.call_tool("place_order", {**order, "quantity": "0.0007"})  # 37.8 fits in 42
        assert not small.is_error, small


# -- dry run, kill switch, approval -----------------------------------------------------------


@pytest.mark.parametrize("mode", ERAS)
async def test_dry_run_sends_nothing_and_shows_value_and_verdict(world, mode):
    with_account(world, "rehearsal", "Dry Run: true", "Max Order Value: 100 USDT", environment="mainnet")
    async with memory_client(world.tools_file, mode, world.base_url) as client:
        ok = await client.call_tool("place_order", {**SMALL_BUY, "account": "rehearsal"})
        big = await client.call_tool("place_order", {**SMALL_BUY, "quantity": "0.01", "account": "rehearsal"})
        cancel = await client.call_tool("cancel_order", {"symbol": "BTCUSDT", "orderId": 1, "account": "rehearsal"})
    assert writes(world) == []
    first, second = result_json(ok), result_json(big)
    assert not ok.is_error and first["dry_run"] is True and first["sent"] is False  # no CONFIRM asked: nothing goes out
    assert first["value"]["USDT"] == "54" and first["verdict"].startswith("would pass") and "approval" in first["verdict"]
    assert first["request"]["params"]["quantity"] == "0.001"
    assert second["verdict"].startswith("would be refused by the max order value rule") and second["rule"] == "max order value"
    assert result_json(cancel)["dry_run"] is True
    assert [e["policy"]["dry_run"] for e in journal(world) if e["phase"] == "intent"] == [True, True, True]


@pytest.mark.parametrize("mode", ERAS)
async def test_kill_switch_stops_writes_but_not_cancels(world, mode, cli_isolation, monkeypatch):
    journal_file = world.tools_file.parent / "journal.jsonl"
    monkeypatch.setenv("BINANCE_SPOT_MCP_JOURNAL", str(journal_file))
    async with memory_client(world.tools_file, mode, world.base_url) as client:
        resting = result_json(await client.call_tool("place_order", SMALL_BUY))
        assert main(["halt", "--reason", "flash crash"]) == 0
        body = refused(await client.call_tool("place_order", SMALL_BUY), "kill switch")
        assert "flash crash" in body["message"] and "resume" in body["hint"]
        refused(await client.call_tool("place_order_list_oco", {**OVER_CAP["oco (the larger leg)"][1], "quantity": "0.001"}),
                "kill switch")
        cancel = await client.call_tool("cancel_order", {"symbol": "BTCUSDT", "orderId": resting["orderId"]})
        assert not cancel.is_error and result_json(cancel)["status"] == "CANCELED"
        status = result_json(await client.call_tool("get_safety_status", {}))
        assert status["server"]["trading"] == "off" and "flash crash" in status["server"]["reason"]
        assert main(["resume"]) == 0
        assert not (await client.call_tool("place_order", SMALL_BUY)).is_error
    assert [r.method for r in writes(world)] == ["POST", "DELETE", "POST"]


async def test_trading_off_by_environment_variable(world):
    async with memory_client(world.tools_file, "legacy", world.base_url, extra_env={"BINANCE_SPOT_MCP_TRADING": "off"}) as client:
        body = refused(await client.call_tool("place_order", SMALL_BUY), "kill switch")
    assert "BINANCE_SPOT_MCP_TRADING=off" in body["message"] and writes(world) == []


async def test_server_wide_cap_binds_every_account_and_an_account_can_only_tighten_it(world):
    with_account(world, "loose", "Max Order Value: 1000 USDT")
    env = {"BINANCE_SPOT_MCP_MAX_ORDER_VALUE": "50 USDT"}
    async with memory_client(world.tools_file, "legacy", world.base_url, extra_env=env) as client:
        body = refused(await client.call_tool("place_order", {**SMALL_BUY, "account": "loose"}), "max order value")
        assert "(server) is 50 USDT" in body["message"]
        refused(await client.call_tool("place_order", SMALL_BUY), "max order value")  # main has no lines of its own
    assert writes(world) == []


async def test_a_value_that_cannot_be_priced_is_refused(world):
    with_account(world, "euro", "Max Order Value: 100 EUR")
    async with memory_client(world.tools_file, "legacy", world.base_url) as client:
        body = refused(await client.call_tool("place_order", {**SMALL_BUY, "account": "euro"}), "valuation")
    assert "no price turns USDT into EUR" in body["message"] and writes(world) == []


async def test_value_is_converted_through_a_bridge(world):
    """ETHBTC is quoted in BTC; a cap in SOL needs BTC -> USDT -> SOL (no BTC/SOL pair exists)."""
    with_account(world, "sol", "Max Order Value: 1.5 SOL")
    eth_btc = {"symbol": "ETHBTC", "side": "BUY", "type": "LIMIT", "quantity": "0.1", "price": "0.045", **GTC}  # 0.0045 BTC
    async with memory_client(world.tools_file, "legacy", world.base_url) as client:
        body = refused(await client.call_tool("place_order", {**eth_btc, "account": "sol"}), "max order value")
        # 0.0045 BTC x the highest BTCUSDT price / the lowest SOLUSDT price: about 270 / 150 = 1.8 SOL
        assert Decimal("1.75") < Decimal(body["value"]) < Decimal("1.85")
        assert not (await client.call_tool("place_order", {**eth_btc, "quantity": "0.05", "account": "sol"})).is_error


async def test_confirm_always_asks_on_testnet_and_caps_come_before_approval(world):
    with_account(world, "careful", "Confirm: always", "Max Order Value: 100 USDT")
    chat = {"BINANCE_SPOT_MCP_ALLOW_CHAT_CONFIRM": "1"}  # this host has no prompt: the operator allowed chat approval
    async with memory_client(world.tools_file, "legacy", world.base_url, extra_env=chat) as client:
        # over the cap: refused before any approval is asked for
        refused(await client.call_tool("place_order", {**SMALL_BUY, "quantity": "0.01", "account": "careful"}),
                "max order value")
        asked = result_json(await client.call_tool("place_order", {**SMALL_BUY, "account": "careful"}))
        assert asked["status"] == "confirmation_required" and asked["sent"] is False
        assert "Account: careful (TESTNET, not real money;" in asked["preview"]
        sent = await client.call_tool("place_order", {**SMALL_BUY, "account": "careful", "confirm": "CONFIRM",
                                                      "confirmation_token": asked["confirmation_token"]})
        assert not sent.is_error, sent
    assert len(writes(world)) == 1


async def test_caps_are_checked_again_after_approval(world):
    """The operator tightens the cap while the human looks at the approval form: the send-time
    check, under the account's lock, still refuses."""
    with_account(world, "careful", "Confirm: always", "Max Order Value: 100 USDT")
    asked: list[str] = []

    async def approve(ctx: Any, params: Any) -> Any:
        from mcp.types import ElicitResult

        asked.append(params.message)
        set_rules(world, "careful", "Confirm: always", "Max Order Value: 50 USDT")
        return ElicitResult(action="accept", content={"confirm": "CONFIRM"})

    async with memory_client(world.tools_file, "legacy", world.base_url, elicitation_callback=approve) as client:
        body = refused(await client.call_tool("place_order", {**SMALL_BUY, "account": "careful"}), "max order value")
    assert len(asked) == 1 and body["cap"] == "50 USDT" and writes(world) == []
    assert [e["policy"]["stage"] for e in journal(world) if e["phase"] == "intent"] == ["at send"]


async def test_replacing_an_account_through_add_account_keeps_its_limits(world, tmp_path):
    with_account(world, "capped", "Max Order Value: 100 USDT", "Dry Run: true")
    credentials = tmp_path / "creds.txt"
    credentials.write_text(f"{world.keys.hmac_api_key}\n{world.keys.hmac_secret}\n")

    async def approve(ctx: Any, params: Any) -> Any:  # a replacement needs the human's approval
        from mcp.types import ElicitResult

        return ElicitResult(action="accept", content={"confirm": "CONFIRM"})

    async with memory_client(world.tools_file, "legacy", world.base_url, elicitation_callback=approve) as client:
        replaced = await client.call_tool("add_account", {"name": "capped", "environment": "testnet", "replace": True,
                                                          "credentials_file": str(credentials)})
        assert not replaced.is_error, replaced
        text = world.tools_file.read_text()
        assert "- Max Order Value: 100 USDT" in text and "- Dry Run: true" in text
        status = result_json(await client.call_tool("get_safety_status", {}))
    row = next(a for a in status["accounts"] if a["account"] == "capped")
    assert row["policy"]["dry_run"] is True and row["policy"]["max_order_value"] == ["100 USDT (account)"]


def test_policy_lines_with_bad_values_name_the_line(world):
    from binance_spot_mcp.accounts.store import AccountStore
    from binance_spot_mcp.config import load_settings
    from binance_spot_mcp.redact import Redactor

    with_account(world, "typo", "Max Daily Value: lots")
    current = AccountStore(load_settings(tools_file=str(world.tools_file), environ={}), Redactor()).current()
    line = world.tools_file.read_text().splitlines().index("- Max Daily Value: lots") + 1
    assert f"TOOLS.md line {line}: Max Daily Value: 'lots' is not an amount such as '100 USDT'" in current.broken["typo"].problem


def test_bad_server_wide_values_stop_the_server_before_it_serves(tmp_path: Path, cli_isolation, capsys):
    assert main(["--max-order-value", "-5 USDT", "tools"]) == 2
    assert "--max-order-value: '-5 USDT' is not an amount" in capsys.readouterr().err


def test_journal_lines_show_what_the_guard_rails_found():
    from binance_spot_mcp.cli.listings import journal_line

    line = journal_line({"ts": "t", "id": "i", "phase": "intent", "tool": "place_order", "account": "main",
                         "environment": "mainnet", "method": "POST", "path": "/api/v3/order", "params": {"symbol": "BTCUSDT"},
                         "policy": {"refused": "max daily value", "stage": "at send"}})
    assert line.endswith("symbol=BTCUSDT  [policy refused=max daily value stage=at send]")


async def test_console_script_flags_set_server_wide_rails(world):
    capped = ["serve", "--max-order-value", "50 USDT", "--allowed-symbols", "BTC*"]
    async with stdio_client_for(world.tools_file, "auto", base_url=world.base_url, extra_args=capped) as (client, _):
        body = refused(await client.call_tool("place_order", SMALL_BUY), "max order value")
        assert "(server) is 50 USDT" in body["message"]
        refused(await client.call_tool("place_order", {**SMALL_BUY, "symbol": "ETHUSDT", "price": "2700", "quantity": "0.01"}),
                "symbol list")
    async with stdio_client_for(world.tools_file, "legacy", base_url=world.base_url,
                                extra_args=["serve", "--trading", "off"]) as (client, _):
        body = refused(await client.call_tool("place_order", SMALL_BUY), "kill switch")
        assert "started with --trading off" in body["message"]
    assert writes(world) == []


async def test_an_order_cap_refusal_also_says_what_remains_today(world):
    with_account(world, "both", "Max Order Value: 100 USDT", "Max Daily Value: 150 USDT")
    async with memory_client(world.tools_file, "legacy", world.base_url) as client:
        assert not (await client.call_tool("place_order", {**SMALL_BUY, "account": "both"})).is_error
        body = refused(await client.call_tool("place_order", {**SMALL_BUY, "quantity": "0.01", "account": "both"}),
                       "max order value")
    assert body["remaining_today"] == {"USDT": "96"} and "(96 USDT of the daily cap remain)" in body["message"]


def _someone_waits_for(path: Path) -> bool:
    """True when /proc/locks shows a process blocked on the flock of ``path`` (Linux)."""
    inode = f":{path.stat().st_ino} "
    return any("->" in line and inode in line for line in Path("/proc/locks").read_text().splitlines())


async def test_the_send_time_check_waits_for_another_process_holding_the_account_lock(world):
    """Another process holds the account's lock while it records an order: the server waits, then
    counts that order too -- check-and-record is atomic across processes."""
    import fcntl
    import os

    from binance_spot_mcp.journal import Journal

    from binance_spot_mcp.accounts.store import AccountStore
    from binance_spot_mcp.config import load_settings
    from binance_spot_mcp.guard.enforce import lock_path as account_lock_path
    from binance_spot_mcp.redact import Redactor

    with_account(world, "daily", "Max Daily Value: 150 USDT")
    settings = load_settings(tools_file=str(world.tools_file), environ={})
    daily = AccountStore(settings, Redactor()).current().accounts["daily"]
    lock_path = account_lock_path(Journal(world.tools_file.parent / "journal.jsonl"), daily)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        results: list[Any] = []
        async with memory_client(world.tools_file, "legacy", world.base_url) as client:

            async def place() -> None:
                results.append(await client.call_tool("place_order", {**SMALL_BUY, "account": "daily"}))

            async with anyio.create_task_group() as group:
                group.start_soon(place)
                with anyio.fail_after(10):
                    while not _someone_waits_for(lock_path):
                        await anyio.sleep(0.01)
                assert writes(world) == [] and not results
                Journal(world.tools_file.parent / "journal.jsonl").record_intent(
                    tool="place_order", account="daily", environment="testnet", method="POST", path="/api/v3/order",
                    params={"symbol": "BTCUSDT"}, policy={"value": {"USDT": "120"}})
                fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
    body = refused(results[0], "max daily value")
    assert body["spent_24h"] == "120" and writes(world) == []
