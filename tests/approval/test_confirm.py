"""The CONFIRM matrix: every state-changing tool x every way a confirmation can go x both eras.

Counts at the fake exchange that nothing state-changing arrives unless the human typed CONFIRM
for exactly that request, and that no secret shows up in anything the client saw.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from mcp.shared.exceptions import MCPError
from mcp.types import ElicitRequestFormParams, ElicitResult, ErrorData, InputRequiredResult

from binance_spot_mcp.catalog.endpoints import load_catalog
from binance_spot_mcp.config import load_settings
from binance_spot_mcp.server import Runtime, build_server
from tests.approval_support import minimal_arguments
from tests.e2e_support import ERAS, loopback_environ, result_json, transcript, write_world

pytestmark = pytest.mark.anyio

CATALOG = load_catalog()
CHANGING = [e for e in CATALOG.endpoints if e.changes_state]
# Schema-valid but arbitrary values: local filter checks (tested elsewhere) would stop most earlier.
NO_FILTERS = {"BINANCE_SPOT_MCP_LOCAL_FILTERS": "0"}


def _sends(world) -> int:
    return sum(1 for r in world.exchange.requests if r.method != "GET")


def _answer(text: str | None, action: str = "accept") -> Callable[..., Any]:
    async def callback(ctx, params):
        assert isinstance(params, ElicitRequestFormParams)
        if action != "accept":
            return ElicitResult(action=action)
        return ElicitResult(action="accept", content={"confirm": text})

    return callback


async def _error_callback(ctx, params):
    return ErrorData(code=-1, message="the host could not show the form")


def _client(world, mode, *, allow_chat_confirm: bool = False, **kwargs):
    import dataclasses

    from mcp import Client

    settings = load_settings(tools_file=str(world.tools_file), environ={**loopback_environ(world.base_url, world.tools_file.parent), **NO_FILTERS})
    runtime = Runtime(settings=dataclasses.replace(settings, allow_chat_confirm=allow_chat_confirm))
    return runtime, Client(build_server(runtime), mode=mode, **kwargs)


def _check_no_leak(world, seen: list[Any]) -> None:
    text = transcript(seen)
    leaked = [s for s in world.keys.sensitive() if s in text]
    assert not leaked


ODD_ANSWERS = {
    "failed_elicitation": _error_callback,
    "confirm_inside_other_text": _answer("do NOT CONFIRM"),
    "lower_case": _answer("confirm"),
}


def _answer_with_content(text, action):
    async def callback(ctx, params):
        return ElicitResult(action=action, content={"confirm": text})

    return callback


# the host's action is what counts: CONFIRM in the content of a decline or cancel sends nothing
ODD_ANSWERS["decline_with_confirm"] = _answer_with_content("CONFIRM", "decline")
ODD_ANSWERS["cancel_with_confirm"] = _answer_with_content("CONFIRM", "cancel")


@pytest.mark.parametrize("mode", ERAS)
@pytest.mark.parametrize("case", list(ODD_ANSWERS))
async def test_odd_or_failed_answers_send_nothing(world, mode, case):
    runtime, client = _client(world, mode, elicitation_callback=ODD_ANSWERS[case])
    seen: list[Any] = []
    checked = 0
    try:
        async with client:
            for endpoint in CHANGING:
                before = _sends(world)
                try:
                    result = await client.call_tool(endpoint.tool, minimal_arguments(endpoint))
                except MCPError:
                    # modern era: the client itself gives up when its host fails to ask
                    assert case == "failed_elicitation" and mode == "auto"
                    assert _sends(world) == before
                    checked += 1
                    continue
                seen.append(result)
                checked += 1
                assert _sends(world) == before, endpoint.tool
                body = result_json(result)
                assert result.is_error and body["error"] == "not_confirmed", (endpoint.tool, body)
    finally:
        await runtime.aclose()
    assert checked == len(CHANGING) == 13
    _check_no_leak(world, seen)


async def test_legacy_prompt_shows_the_request_in_plain_words(world):
    prompts: list[str] = []

    async def record(ctx, params):
        prompts.append(params.message)
        return ElicitResult(action="decline")

    runtime, client = _client(world, "legacy", elicitation_callback=record)
    try:
        async with client:
            await client.call_tool(
                "place_order",
                {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.002",
                 "price": "50000", "account": "live"},
            )
            await client.call_tool("place_order", {"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET", "quantity": "0.5", "account": "live"})
    finally:
        await runtime.aclose()
    limit, market = prompts
    for word in ("place_order", "live", "MAINNET", "BTCUSDT", "BUY", "LIMIT", "0.002", "50000",
                 "Destination: 127.0.0.1", "Estimated notional: 100 USDT"):
        assert word in limit
    assert world.keys.live_api_key[:5] + "..." in limit and world.keys.live_api_key not in limit
    assert "at the last price" in market  # notional estimated from the ticker


async def test_chat_tokens_expire_after_two_minutes(world):
    runtime, client = _client(world, "auto", allow_chat_confirm=True)
    clock = {"now": 0.0}
    runtime.gate.nonces._clock = lambda: clock["now"]  # noqa: SLF001
    args = minimal_arguments(CATALOG.get("place_order"))
    try:
        async with client:
            token = result_json(await client.call_tool("place_order", args))["confirmation_token"]
            clock["now"] += 121
            late = await client.call_tool("place_order", {**args, "confirm": "CONFIRM", "confirmation_token": token})
    finally:
        await runtime.aclose()
    assert "expired" in result_json(late)["message"] and _sends(world) == 0


async def _refused(call) -> bool:
    try:
        result = await call
    except MCPError:
        return True
    return result_json(result).get("error") == "not_confirmed"


def _with_second_mainnet_account(world) -> None:
    """A second mainnet account (same fake, other key), so binding to the account can be seen."""
    text = world.tools_file.read_text()
    block = text[text.index("### live"):].replace("### live", "### live2")
    world.tools_file.write_text(text.rstrip("\n") + "\n\n" + block)


VARIANTS = {
    "other_arguments": ("place_order", {"quantity": "9"}),
    "other_account": ("place_order", {"account": "live2"}),
    "other_tool": ("cancel_replace_order", {}),
}


@pytest.mark.parametrize("variant", list(VARIANTS))
async def test_digest_check_refuses_a_state_for_another_request(world, variant):
    """Below the SDK's seal: a genuine state for one request never approves another."""
    from mcp.types import CallToolRequestParams, ClientCapabilities, ElicitationCapability

    from binance_spot_mcp.approval.confirm import PendingState
    from binance_spot_mcp.approval.gate import Asker
    from binance_spot_mcp.catalog.schema import prepare_arguments

    _with_second_mainnet_account(world)
    runtime, _ = _client(world, "auto")
    endpoint = CATALOG.get("place_order")
    args = minimal_arguments(endpoint)
    tool, change = VARIANTS[variant]
    asked_args = {**args, **change} if tool == "place_order" else args
    endpoint_for_state = CATALOG.get(tool)  # other_tool: minted for another tool, same arguments

    class Ctx:  # a modern-era context whose host declares form elicitation
        protocol_version = "2026-07-28"
        request = None

        class session:  # noqa: N801
            client_capabilities = ClientCapabilities(elicitation=ElicitationCapability())

    asker = Asker(Ctx(), None)  # type: ignore[arg-type]
    account = runtime.accounts.resolve("live")
    minted = runtime._approval_request(endpoint_for_state, account, prepare_arguments(endpoint, args), asker, args)
    state = PendingState("confirm", runtime.gate.nonces.issue(60), "live", minted.digest)
    params = CallToolRequestParams(
        name="place_order", arguments=asked_args, request_state=state.encode(),
        input_responses={"confirm": ElicitResult(action="accept", content={"confirm": "CONFIRM"})},
    )
    try:
        result = await runtime.call("place_order", asked_args, asker=Asker(Ctx(), params))  # type: ignore[arg-type]
    finally:
        await runtime.aclose()
    assert result_json(result)["error"] == "not_confirmed" and "different request" in result_json(result)["message"]
    assert _sends(world) == 0


async def test_modern_state_cannot_be_tampered_with_or_reused(world):
    runtime, client = _client(world, "auto", elicitation_callback=_answer("CONFIRM"))
    order = minimal_arguments(CATALOG.get("place_order"))
    accept = {"confirm": ElicitResult(action="accept", content={"confirm": "CONFIRM"})}
    try:
        async with client:
            session = client.session
            first = await session.call_tool("place_order", order, allow_input_required=True)
            assert isinstance(first, InputRequiredResult)
            # an answer nobody asked for (no state) is met with the question again, not a send
            unsolicited = await session.call_tool("place_order", order, allow_input_required=True, input_responses=accept)
            assert isinstance(unsolicited, InputRequiredResult)
            with pytest.raises(MCPError):
                await session.call_tool("place_order", order, allow_input_required=True, input_responses=accept,
                                        request_state="tampered")
            with pytest.raises(MCPError):
                await session.call_tool("place_order", order, allow_input_required=True, input_responses=accept,
                                        request_state=first.request_state[:-4] + "AAAA")
            # the state of this question, with other arguments: refused (the SDK's seal binds the
            # request, and our digest binds account + canonical arguments as a second check)
            assert await _refused(session.call_tool(
                "place_order", {**order, "quantity": "2"}, allow_input_required=True,
                input_responses=accept, request_state=first.request_state))
            # the state of a question about another tool: refused
            cancel = minimal_arguments(CATALOG.get("cancel_order"))
            other = await session.call_tool("cancel_order", cancel, allow_input_required=True)
            assert await _refused(session.call_tool(
                "place_order", order, allow_input_required=True, input_responses=accept, request_state=other.request_state))
            assert _sends(world) == 0
            fresh = await session.call_tool("place_order", order, allow_input_required=True)
            ok = await session.call_tool("place_order", order, allow_input_required=True, input_responses=accept,
                                         request_state=fresh.request_state)
            assert _sends(world) == 1, ok
            replay = await session.call_tool("place_order", order, allow_input_required=True, input_responses=accept,
                                             request_state=fresh.request_state)
            assert result_json(replay)["error"] == "not_confirmed" and _sends(world) == 1
    finally:
        await runtime.aclose()


@pytest.mark.parametrize("mode", ERAS)
async def test_ambiguous_account_is_asked_then_confirmed(tmp_path, fake_exchange, keys, mode):
    world = write_world(tmp_path, fake_exchange, keys)
    world.tools_file.write_text(world.tools_file.read_text().replace("### main", "### first"))
    questions: list[str] = []

    async def answer(ctx, params):
        props = params.requested_schema["properties"]
        if "account" in props:
            questions.append("account")
            assert set(props["account"]["enum"]) == {"first", "rsa", "ed", "live"}
            return ElicitResult(action="accept", content={"account": "live"})
        questions.append("confirm")
        assert "live" in params.message
        return ElicitResult(action="accept", content={"confirm": "CONFIRM"})

    runtime, client = _client(world, mode, elicitation_callback=answer)
    args = minimal_arguments(CATALOG.get("cancel_open_orders"))
    args.pop("account")
    try:
        async with client:
            result = await client.call_tool("cancel_open_orders", args)
            read = await client.call_tool("get_account", {})
    finally:
        await runtime.aclose()
    assert questions == ["account", "confirm", "account"]
    assert _sends(world) == 1 and not read.is_error, result
    live_key = world.keys.live_api_key
    signed = [r for r in world.exchange.requests if "signature" in r.query + r.body]
    assert signed and all(r.headers.get("x-mbx-apikey") == live_key for r in signed)


@pytest.mark.parametrize("mode", ERAS)
async def test_declining_the_account_question_sends_nothing(tmp_path, fake_exchange, keys, mode):
    world = write_world(tmp_path, fake_exchange, keys)
    world.tools_file.write_text(world.tools_file.read_text().replace("### main", "### first"))
    runtime, client = _client(world, mode, elicitation_callback=_answer(None, "decline"))
    try:
        async with client:
            body = result_json(await client.call_tool("get_account", {}))
    finally:
        await runtime.aclose()
    assert body["error"] == "account_error" and "nothing was sent" in body["message"]
    assert world.exchange.requests == []
