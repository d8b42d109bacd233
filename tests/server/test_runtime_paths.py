"""Runtime.call's own paths, through the real server in memory: tools the server does not offer,
public reads, the boundary that turns a crash into a result, the card's decision arguments, the
account question, resources (the mutation run of ``server.runtime`` asked for these)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from binance_spot_mcp.approval.gate import Asker
from binance_spot_mcp.approval.summary import number
from binance_spot_mcp.catalog.endpoints import load_catalog
from binance_spot_mcp.catalog.skill_resources import GUIDE_URI
from binance_spot_mcp.config import load_settings
from binance_spot_mcp.guard.safety import CHANNEL_WORDS, NOT_ASKED
from binance_spot_mcp.server import Runtime, build_server
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import ElicitRequestFormParams, ElicitResult

from tests.e2e_support import (
    ERAS,
    loopback_environ,
    memory_client,
    random_token,
    result_json,
    write_world,
)
from tests.guard.test_guard_rails import journal, writes

pytestmark = pytest.mark.anyio


async def test_a_tool_this_server_does_not_offer_is_a_protocol_error(world):
    async with memory_client(world.tools_file, "legacy", world.base_url,
                             extra_env={"BINANCE_SPOT_MCP_READ_ONLY": "1"}) as client:
        with pytest.raises(MCPError) as disabled:
            await client.call_tool("place_order", {"symbol": "BTCUSDT"})
        with pytest.raises(MCPError) as unknown:
            await client.call_tool("no_such_tool", {})
        price = await client.call_tool("get_ticker_price", {"symbol": "BTCUSDT"})
        streams = await client.call_tool("list_streams", {})
    assert str(disabled.value).startswith("Tool place_order is not enabled on this server (") and "read-only" in str(disabled.value)
    assert str(unknown.value) == "Unknown tool: no_such_tool"
    assert not price.is_error and result_json(price)["symbol"] == "BTCUSDT"  # public reads still pass
    assert not streams.is_error
    assert writes(world) == []


async def test_public_data_comes_from_the_chosen_environment_without_a_key(world):
    async with memory_client(world.tools_file, "legacy", world.base_url) as client:
        before = len(world.exchange.requests)
        price = await client.call_tool("get_ticker_price", {"symbol": "BTCUSDT", "environment": "testnet"})
    assert not price.is_error and result_json(price)["symbol"] == "BTCUSDT"
    (request,) = world.exchange.requests[before:]
    assert request.path == "/api/v3/ticker/price"


async def test_a_crash_inside_a_call_becomes_an_internal_error_result(world):
    def crash(runtime: Runtime) -> None:
        async def boom(*args: Any, **kwargs: Any) -> None:
            raise RuntimeError("unexpected")

        runtime.facts.check_filters = boom  # type: ignore[method-assign]

    async with memory_client(world.tools_file, "legacy", world.base_url, on_runtime=crash) as client:
        result = await client.call_tool("place_order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET",
                                                        "quantity": "0.001", "account": "main"})
    assert result.is_error
    body = result_json(result)
    assert body["message"] == "internal error: RuntimeError" and body["hint"] == "This is a bug; please report it."
    assert writes(world) == []


async def test_the_cards_decision_needs_its_arguments_and_says_what_happened(world):
    runtimes: list[Runtime] = []
    async with memory_client(world.tools_file, "legacy", world.base_url, on_runtime=runtimes.append):
        runtime = runtimes[0]
        asker = Asker(None, None)
        missing = await runtime.approve_from_card({"approval_id": "a", "secret": "s"}, asker)
        bad_decision = await runtime.approve_from_card({"approval_id": "a", "secret": "s", "decision": "maybe"}, asker)
        not_text = await runtime.approve_from_card({"approval_id": 1, "secret": "s", "decision": "approve"}, asker)
        declined = await runtime.approve_from_card({"approval_id": "a", "secret": "s", "decision": "decline"}, asker)
        unknown = await runtime.approve_from_card(
            {"approval_id": "a", "secret": "s", "decision": "approve", "confirm": "CONFIRM"}, asker)
        nothing = await runtime.approve_from_card(None, asker)
    needs = "approval_id, secret and decision (approve|decline) are required"
    for result in (missing, bad_decision, not_text, nothing):
        assert result.is_error and result_json(result)["message"] == needs
    assert result_json(declined)["message"] == "The request was declined. Nothing was sent."
    assert result_json(unknown)["message"] == (
        "The request was not approved (unknown, spent, expired, foreign or wrong text). Nothing was sent."
    )
    assert writes(world) == []


def _no_main(tmp_path, fake_exchange, keys):
    world = write_world(tmp_path, fake_exchange, keys)
    world.tools_file.write_text(world.tools_file.read_text().replace("### main", "### first"))
    return world


@pytest.mark.parametrize("mode", ERAS)
async def test_an_ambiguous_account_is_asked_for_and_the_answer_used(tmp_path, fake_exchange, keys, mode):
    world = _no_main(tmp_path, fake_exchange, keys)
    questions: list[Any] = []

    async def human(ctx: Any, params: Any) -> ElicitResult:
        assert isinstance(params, ElicitRequestFormParams)
        questions.append(params)
        return ElicitResult(action="accept", content={"account": "rsa"})

    async with memory_client(world.tools_file, mode, world.base_url, elicitation_callback=human) as client:
        result = await client.call_tool("get_account", {})
    assert not result.is_error, result
    (question,) = questions
    assert question.message == "Several Binance accounts are configured and none is called 'main'. Which one should be used?"
    account_field = question.requested_schema["properties"]["account"]
    assert account_field == {"type": "string", "title": "Account", "enum": ["first", "rsa", "ed", "live"]}
    assert question.requested_schema["required"] == ["account"]
    (request,) = world.exchange.requests_to("/api/v3/account")
    assert request.headers.get("x-mbx-apikey") == keys.rsa_api_key


@pytest.mark.parametrize("mode", ERAS)
@pytest.mark.parametrize("answer", [
    pytest.param(ElicitResult(action="decline"), id="declined"),
    pytest.param(ElicitResult(action="decline", content={"account": "rsa"}), id="declined-with-a-name"),
    pytest.param(ElicitResult(action="accept", content={"account": "nobody"}), id="not-a-choice"),
])
async def test_no_account_chosen_means_nothing_is_sent(tmp_path, fake_exchange, keys, mode, answer):
    world = _no_main(tmp_path, fake_exchange, keys)

    async def human(ctx: Any, params: Any) -> ElicitResult:
        return answer

    async with memory_client(world.tools_file, mode, world.base_url, elicitation_callback=human) as client:
        result = await client.call_tool("get_account", {})
    body = result_json(result)
    assert result.is_error and body["error"] == "account_error"
    assert body["message"] == "no account was chosen, so nothing was sent"
    assert body["hint"] == "Ask the user which account to use and call again with 'account'."
    assert world.exchange.requests_to("/api/v3/account") == []


async def test_the_guide_is_listed_and_read_as_a_resource(world):
    async with memory_client(world.tools_file, "legacy", world.base_url) as client:
        listed = {str(r.uri) for r in (await client.list_resources()).resources}
        guide = await client.read_resource(GUIDE_URI)
    assert GUIDE_URI in listed
    assert "binance" in guide.contents[0].text.lower()


# ------------------------------------------------------------------------- approvals and status
async def _status(client: Any) -> dict[str, Any]:
    result = await client.call_tool("get_safety_status", {})
    assert not result.is_error
    return result_json(result)


async def test_the_safety_status_names_each_accounts_approval_channel(world):
    async def human(ctx: Any, params: Any) -> ElicitResult:
        return ElicitResult(action="decline")

    async with memory_client(world.tools_file, "legacy", world.base_url, elicitation_callback=human) as client:
        form = {a["account"]: a["approval"] for a in (await _status(client))["accounts"]}
    async with memory_client(world.tools_file, "legacy", world.base_url,
                             extra_env={"BINANCE_SPOT_MCP_ALLOW_CHAT_CONFIRM": "1"}) as client:
        chat = {a["account"]: a["approval"] for a in (await _status(client))["accounts"]}
    assert form["live"] == CHANNEL_WORDS["form"] and form["main"] == NOT_ASKED
    assert chat["live"] == CHANNEL_WORDS["chat"]
    world.tools_file.write_text(world.tools_file.read_text() + "\n### broken\n- Environment: testnet\n")
    async with memory_client(world.tools_file, "legacy", world.base_url) as client:
        status = await _status(client)
    assert status["account_problems"] and any("broken" in p for p in status["account_problems"])


async def test_the_approval_prompt_shows_the_last_price_and_the_quote_asset(world):
    prompts: list[str] = []

    async def human(ctx: Any, params: Any) -> ElicitResult:
        prompts.append(params.message)
        return ElicitResult(action="decline")

    async with memory_client(world.tools_file, "legacy", world.base_url, elicitation_callback=human) as client:
        last = result_json(await client.call_tool("get_ticker_price", {"symbol": "BTCUSDT"}))["price"]
        await client.call_tool("place_order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001",
                                               "account": "live"})
    (prompt,) = prompts
    assert f"USDT at the last price {last}" in prompt
    description = load_catalog().get("place_order").description
    value = number(Decimal(last) * Decimal("0.001"))  # the server's summary first
    assert prompt.splitlines()[0] == f"[MAINNET · real money] Buy 0.001 BTC at the market price — you pay about {value} USDT + fee"
    assert f"{description.rstrip('.')} (place_order: POST /api/v3/order)" in prompt.splitlines()  # the details
    # the refusal is journaled with the request it refused
    intent, outcome = journal(world)[-2:]
    assert {k: intent[k] for k in ("tool", "account", "environment", "method", "path", "approved_via")} == {
        "tool": "place_order", "account": "live", "environment": "mainnet", "method": "POST",
        "path": "/api/v3/order", "approved_via": "not approved"}
    assert intent["params"]["symbol"] == "BTCUSDT" and intent["policy"]["refused"] == "human_approval"
    assert outcome["ok"] is False and outcome["summary"]["not_sent"] == intent["policy"]["reason"]
    assert outcome["summary"]["channel"] == intent["policy"]["channel"] == "form"


async def test_a_chat_token_approves_only_its_own_tool_and_session(world):
    """The request digest binds the tool and the session, not only the parameters."""
    environ = {**loopback_environ(world.base_url, world.tools_file.parent), "BINANCE_SPOT_MCP_ALLOW_CHAT_CONFIRM": "1"}
    runtime = Runtime(settings=load_settings(tools_file=str(world.tools_file), environ=environ))
    order = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001", "account": "live"}
    try:
        async with Client(build_server(runtime), mode="legacy") as first, Client(build_server(runtime), mode="legacy") as second:
            token = result_json(await first.call_tool("place_sor_order", order))["confirmation_token"]
            other_tool = await first.call_tool("place_order", {**order, "confirm": "CONFIRM", "confirmation_token": token})
            assert result_json(other_tool)["error"] == "not_confirmed"
            token = result_json(await first.call_tool("place_order", order))["confirmation_token"]
            other_session = await second.call_tool("place_order", {**order, "confirm": "CONFIRM", "confirmation_token": token})
            assert result_json(other_session)["error"] == "not_confirmed"
    finally:
        await runtime.aclose()
    assert writes(world) == []


async def test_an_add_account_the_human_refuses_is_journaled_with_the_entry_it_would_add(world):
    async def human(ctx: Any, params: Any) -> ElicitResult:
        return ElicitResult(action="decline")

    keys = {"api_key": random_token(), "secret": random_token()}
    async with memory_client(world.tools_file, "legacy", world.base_url, elicitation_callback=human) as client:
        result = await client.call_tool("add_account", {"name": "fresh-live", "environment": "mainnet", **keys})
    assert result.is_error and result_json(result)["error"] == "not_confirmed"
    assert "fresh-live" not in world.tools_file.read_text()
    intent, outcome = journal(world)[-2:]
    assert {k: intent[k] for k in ("tool", "account", "environment", "method", "path", "params", "approved_via")} == {
        "tool": "add_account", "account": "fresh-live", "environment": "mainnet", "method": "MCP", "path": "TOOLS.md",
        "params": {}, "approved_via": "not approved"}
    assert intent["policy"]["refused"] == "human_approval" and outcome["summary"]["channel"] == "form"
