"""The operator's guard rails apply to paper accounts too, end to end (real MCP client, real
server, the fake exchange as the live market): an order cap refuses an oversized paper order, a
dry run previews and places nothing, the kill switch (halt file or ``--trading off``) refuses,
``Confirm: always`` asks a human while a plain paper account needs no approval, and the journal
records paper orders with environment ``paper``. "Nothing placed" is read from the paper ledger
itself (its orders and balances), and the fake never sees a signed request."""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from binance_spot_mcp.cli.commands import main
from mcp.types import ElicitResult

from tests.e2e_support import ERAS, memory_client, result_json, stdio_client_for
from tests.paper.paper_support import signed_requests, write_paper_tools

pytestmark = pytest.mark.anyio

SMALL = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"}  # ~60 USDT at the 60030 ask
BIG = {**SMALL, "quantity": "0.01"}  # ~600 USDT
START = {"USDT": (D(10000), D(0)), "BTC": (D(1), D(0))}


def paper_block(name: str, base_url: str, *rules: str) -> str:
    lines = [f"### {name}", "- Environment: paper", f"- Base URL: {base_url}", "- Paper Balances: 10000 USDT, 1 BTC",
             *(f"- {r}" for r in rules)]
    return "\n".join(lines) + "\n"


def journal(directory: Path) -> list[dict[str, Any]]:
    path = directory / "journal.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def refused(result: Any, rule: str) -> dict[str, Any]:
    assert result.is_error, result
    body = result_json(result)
    assert body["error"] == "policy_refused" and body["rule"] == rule, body
    return body


async def ledger_of(client: Any, account: str) -> tuple[list[Any], dict[str, tuple[D, D]]]:
    """The paper account's orders on BTCUSDT and its balances, as the desk reports them."""
    orders = result_json(await client.call_tool("get_all_orders", {"symbol": "BTCUSDT", "account": account}))
    account_view = result_json(await client.call_tool("get_account", {"account": account}))
    return orders, {b["asset"]: (D(b["free"]), D(b["locked"])) for b in account_view["balances"]}


@pytest.mark.parametrize("mode", ERAS)
async def test_an_order_cap_refuses_an_oversized_paper_order_and_places_nothing(tmp_path, fake_exchange, mode):
    tools = write_paper_tools(tmp_path, fake_exchange.base_url, paper_block("capped", fake_exchange.base_url,
                                                                            "Max Order Value: 100 USDT"))
    async with memory_client(tools, mode, fake_exchange.base_url) as client:
        body = refused(await client.call_tool("place_order", {**BIG, "account": "capped"}), "max order value")
        assert D(body["value"]) > 100 and body["cap"] == "100 USDT"
        assert await ledger_of(client, "capped") == ([], START)
        small = result_json(await client.call_tool("place_order", {**SMALL, "account": "capped"}))
        assert small["status"] == "FILLED" and small["environment"] == "paper"
        orders, _ = await ledger_of(client, "capped")
        assert [o["orderId"] for o in orders] == [small["orderId"]]
    assert signed_requests(fake_exchange) == []


async def test_a_dry_run_on_a_paper_account_previews_and_places_nothing(tmp_path, fake_exchange):
    tools = write_paper_tools(tmp_path, fake_exchange.base_url, paper_block("rehearsal", fake_exchange.base_url,
                                                                            "Dry Run: true"))
    async with memory_client(tools, "legacy", fake_exchange.base_url) as client:
        preview = result_json(await client.call_tool("place_order", {**SMALL, "account": "rehearsal"}))
        assert preview["dry_run"] is True and preview["sent"] is False
        assert preview["request"]["params"]["quantity"] == "0.001"
        assert await ledger_of(client, "rehearsal") == ([], START)
    assert [e["policy"]["dry_run"] for e in journal(tmp_path) if e["phase"] == "intent"] == [True]
    assert signed_requests(fake_exchange) == []


async def test_the_halt_file_stops_paper_orders_but_not_cancels(tmp_path, fake_exchange, cli_isolation, monkeypatch):
    halt = tmp_path / "halt-here"
    monkeypatch.setenv("BINANCE_SPOT_MCP_HALT_FILE", str(halt))
    monkeypatch.setenv("BINANCE_SPOT_MCP_JOURNAL", str(tmp_path / "journal.jsonl"))
    tools = write_paper_tools(tmp_path, fake_exchange.base_url)
    env = {"BINANCE_SPOT_MCP_HALT_FILE": str(halt)}
    resting = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01", "price": "50000"}
    async with memory_client(tools, "legacy", fake_exchange.base_url, extra_env=env) as client:
        placed = result_json(await client.call_tool("place_order", resting))
        assert main(["halt", "--reason", "paper drill"]) == 0 and halt.exists()
        body = refused(await client.call_tool("place_order", SMALL), "kill switch")
        assert "paper drill" in body["message"]
        canceled = result_json(await client.call_tool("cancel_order", {"symbol": "BTCUSDT", "orderId": placed["orderId"]}))
        assert canceled["status"] == "CANCELED"
        orders, balances = await ledger_of(client, "main")
        assert [(o["orderId"], o["status"]) for o in orders] == [(placed["orderId"], "CANCELED")]
        assert balances == START
    assert signed_requests(fake_exchange) == []


async def test_trading_off_refuses_paper_orders_in_a_server_started_so(tmp_path, fake_exchange):
    tools = write_paper_tools(tmp_path, fake_exchange.base_url)
    async with stdio_client_for(tools, "legacy", base_url=fake_exchange.base_url,
                                extra_args=["serve", "--trading", "off"]) as (client, _):
        refused(await client.call_tool("place_order", SMALL), "kill switch")
        assert await ledger_of(client, "main") == ([], START)
    assert signed_requests(fake_exchange) == []


async def test_confirm_always_asks_a_human_on_paper_and_a_plain_paper_account_does_not(tmp_path, fake_exchange):
    tools = write_paper_tools(tmp_path, fake_exchange.base_url,
                              paper_block("plain", fake_exchange.base_url),
                              paper_block("careful", fake_exchange.base_url, "Confirm: always"))
    asked: list[str] = []
    answer = {"action": "decline"}

    async def human(ctx: Any, params: Any) -> Any:
        asked.append(params.message)
        if answer["action"] == "accept":
            return ElicitResult(action="accept", content={"confirm": "CONFIRM"})
        return ElicitResult(action="decline")

    async with memory_client(tools, "legacy", fake_exchange.base_url, elicitation_callback=human) as client:
        plain = result_json(await client.call_tool("place_order", {**SMALL, "account": "plain"}))
        assert plain["status"] == "FILLED" and asked == []  # no real money: no approval asked
        declined = await client.call_tool("place_order", {**SMALL, "account": "careful"})
        assert len(asked) == 1 and asked[0].startswith("[PAPER") and "Account: careful (PAPER, not real money" in asked[0]
        assert result_json(declined)["error"] == "not_confirmed"
        assert await ledger_of(client, "careful") == ([], START)
        answer["action"] = "accept"
        approved = result_json(await client.call_tool("place_order", {**SMALL, "account": "careful"}))
        assert len(asked) == 2 and approved["status"] == "FILLED" and approved["environment"] == "paper"
    assert signed_requests(fake_exchange) == []


async def test_the_journal_records_paper_orders_as_paper(tmp_path, fake_exchange):
    tools = write_paper_tools(tmp_path, fake_exchange.base_url)
    async with memory_client(tools, "legacy", fake_exchange.base_url) as client:
        placed = result_json(await client.call_tool("place_order", SMALL))
        canceled_none = await client.call_tool("cancel_order", {"symbol": "BTCUSDT", "orderId": 999})
        assert canceled_none.is_error
    entries = journal(tmp_path)
    intents = [e for e in entries if e["phase"] == "intent"]
    assert [(e["tool"], e["account"], e["environment"]) for e in intents] == [
        ("place_order", "main", "paper"), ("cancel_order", "main", "paper")]
    outcomes = {e["id"]: e for e in entries if e["phase"] == "outcome"}
    first = outcomes[intents[0]["id"]]
    assert first["ok"] is True and str(placed["orderId"]) in json.dumps(first["summary"])
    assert outcomes[intents[1]["id"]]["ok"] is False
