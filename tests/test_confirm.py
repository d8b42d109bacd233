"""The CONFIRM matrix: every state-changing tool x every way a confirmation can go x both eras.

Counts at the fake exchange that nothing state-changing arrives unless the human typed CONFIRM
for exactly that request, and that no secret shows up in anything the client saw.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import pytest
from mcp.shared.exceptions import MCPError
from mcp.types import ElicitRequestFormParams, ElicitResult, ErrorData, InputRequiredResult

from binance_spot_mcp import server as server_module
from binance_spot_mcp.order_types import order_type_problems
from binance_spot_mcp.catalog import Endpoint, ParamType, RuleKind, load_catalog
from binance_spot_mcp.config import load_settings
from binance_spot_mcp.server import Runtime, build_server
from tests.e2e_support import ERAS, loopback_environ, result_json, transcript, write_world

pytestmark = pytest.mark.anyio

CATALOG = load_catalog()
CHANGING = [e for e in CATALOG.endpoints if e.changes_state]
# The matrix tests the confirmation gate with schema-valid but arbitrary values; local filter
# checks (tested in test_filters*.py and test_robustness.py) would stop most of them earlier.
NO_FILTERS = {"BINANCE_SPOT_MCP_LOCAL_FILTERS": "0"}
SUMMARY = {"unconfirmed_sends": 0, "leaks": 0, "cases": 0}


def minimal_arguments(endpoint: Endpoint) -> dict[str, Any]:
    """Schema-valid arguments built from the catalog: required parameters plus what rules demand."""

    def value(name: str) -> Any:
        param = endpoint.params[name]
        if param.type is ParamType.ENUM:
            return param.values[0]
        if param.type is ParamType.DECIMAL:
            return "1"
        if param.type is ParamType.INTEGER:
            return 1 if param.constraints.minimum is None else int(param.constraints.minimum)
        if param.type is ParamType.BOOLEAN:
            return False
        if param.type is ParamType.STRING_ARRAY:
            return ["BTCUSDT"]
        return "BTCUSDT" if name == "symbol" else f"{name}-1"

    args = {name: value(name) for name in endpoint.required}
    for rule in endpoint.rules:
        if rule.kind in (RuleKind.AT_LEAST_ONE, RuleKind.EXACTLY_ONE) and not any(p in args for p in rule.params):
            args[rule.params[0]] = value(rule.params[0])
    for name, _ in order_type_problems(endpoint.tool, {k: str(v) for k, v in args.items()}, endpoint.params):
        args.setdefault(name, value(name))  # what the order type needs (LIMIT: timeInForce, price)
    args["account"] = "live"
    return args




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


def _client(world, mode, **kwargs):
    from mcp import Client

    runtime = Runtime(settings=load_settings(tools_file=str(world.tools_file), environ={**loopback_environ(world.base_url, world.tools_file.parent), **NO_FILTERS}))
    return runtime, Client(build_server(runtime), mode=mode, **kwargs)


def _check_no_leak(world, seen: list[Any]) -> None:
    text = transcript(seen)
    leaked = [s for s in world.keys.sensitive() if s in text]
    SUMMARY["leaks"] += len(leaked)
    assert not leaked


ELICIT_CASES = {
    "accept": (_answer("  CONFIRM "), True),
    "decline": (_answer(None, "decline"), False),
    "cancel": (_answer(None, "cancel"), False),
    "wrong_text": (_answer("confirm"), False),
    "other_text": (_answer("yes please"), False),
    "failed_elicitation": (_error_callback, False),
}


@pytest.mark.parametrize("mode", ERAS)
@pytest.mark.parametrize("case", list(ELICIT_CASES))
async def test_elicitation_outcomes_for_every_changing_tool(world, mode, case):
    callback, should_send = ELICIT_CASES[case]
    runtime, client = _client(world, mode, elicitation_callback=callback)
    seen: list[Any] = []
    try:
        async with client:
            for endpoint in CHANGING:
                before = _sends(world)
                try:
                    result = await client.call_tool(endpoint.tool, minimal_arguments(endpoint))
                except MCPError:
                    # modern era: the client itself gives up when its host fails to ask; the
                    # server never receives an answer, so it must not have sent anything
                    assert case == "failed_elicitation" and mode == "auto"
                    SUMMARY["unconfirmed_sends"] += _sends(world) - before
                    assert _sends(world) == before
                    continue
                seen.append(result)
                sent = _sends(world) - before
                SUMMARY["cases"] += 1
                if should_send:
                    assert sent == 1, (endpoint.tool, result)
                else:
                    SUMMARY["unconfirmed_sends"] += sent
                    assert sent == 0, endpoint.tool
                    body = result_json(result)
                    assert result.is_error and body["error"] == "not_confirmed", (endpoint.tool, body)
                    assert "Nothing was sent" in body["message"]
    finally:
        await runtime.aclose()
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
    for word in ("place_order", "live", "MAINNET", "BTCUSDT", "BUY", "LIMIT", "0.002", "50000", "Estimated notional: 100"):
        assert word in limit
    assert world.keys.live_api_key[:5] + "..." in limit and world.keys.live_api_key not in limit
    assert "at the last price" in market  # notional estimated from the ticker


@pytest.mark.parametrize("mode", ERAS)
async def test_timeout_sends_nothing(world, mode, monkeypatch):
    if mode == "legacy":
        monkeypatch.setattr(server_module, "ELICITATION_TIMEOUT_S", 0.2)

        async def never(ctx, params):
            await anyio.sleep_forever()

        callback = never
    else:
        clock = {"now": 0.0}

        async def late(ctx, params):
            clock["now"] += 301  # the human answers after the 5-minute window
            return ElicitResult(action="accept", content={"confirm": "CONFIRM"})

        callback = late
    runtime, client = _client(world, mode, elicitation_callback=callback)
    if mode != "legacy":
        runtime.nonces._clock = lambda: clock["now"]  # noqa: SLF001 - drive the server's clock
    try:
        async with client:
            for endpoint in CHANGING:
                before = _sends(world)
                result = await client.call_tool(endpoint.tool, minimal_arguments(endpoint))
                assert _sends(world) == before and result.is_error, endpoint.tool
                assert result_json(result)["error"] == "not_confirmed"
    finally:
        await runtime.aclose()


@pytest.mark.parametrize("mode", ERAS)
async def test_token_path_when_the_host_cannot_elicit(world, mode):
    runtime, client = _client(world, mode)  # no callback: no elicitation capability declared
    seen: list[Any] = []
    try:
        async with client:
            for endpoint in CHANGING:
                args = minimal_arguments(endpoint)
                before = _sends(world)
                first = await client.call_tool(endpoint.tool, args)
                seen.append(first)
                body = result_json(first)
                assert body["status"] == "confirmation_required" and _sends(world) == before
                token = body["confirmation_token"]

                wrong = await client.call_tool(endpoint.tool, {**args, "confirm": "yes", "confirmation_token": token})
                assert result_json(wrong)["error"] == "not_confirmed" and _sends(world) == before
                forged = await client.call_tool(endpoint.tool, {**args, "confirm": "CONFIRM", "confirmation_token": token + "x"})
                assert result_json(forged)["error"] == "not_confirmed" and _sends(world) == before
                other = dict(args, symbol="ETHUSDT") if "symbol" in args else dict(args, account="main")
                mismatched = await client.call_tool(endpoint.tool, {**other, "confirm": "CONFIRM", "confirmation_token": token})
                assert mismatched.is_error and _sends(world) == before

                ok = await client.call_tool(endpoint.tool, {**args, "confirm": "CONFIRM", "confirmation_token": token})
                seen.append(ok)
                assert _sends(world) == before + 1, (endpoint.tool, ok)
                replay = await client.call_tool(endpoint.tool, {**args, "confirm": "CONFIRM", "confirmation_token": token})
                assert result_json(replay)["error"] == "not_confirmed" and _sends(world) == before + 1
                SUMMARY["cases"] += 5
    finally:
        await runtime.aclose()
    _check_no_leak(world, seen)


async def test_tokens_expire_after_two_minutes(world):
    runtime, client = _client(world, "auto")
    clock = {"now": 0.0}
    runtime.nonces._clock = lambda: clock["now"]  # noqa: SLF001
    args = minimal_arguments(CATALOG.get("place_order"))
    try:
        async with client:
            token = result_json(await client.call_tool("place_order", args))["confirmation_token"]
            clock["now"] += 121
            late = await client.call_tool("place_order", {**args, "confirm": "CONFIRM", "confirmation_token": token})
    finally:
        await runtime.aclose()
    assert "expired" in result_json(late)["message"] and _sends(world) == 0


@pytest.mark.parametrize("mode", ERAS)
async def test_require_elicitation_refuses_the_token_path(world, mode):
    settings = load_settings(tools_file=str(world.tools_file), environ={
        **{**loopback_environ(world.base_url, world.tools_file.parent), **NO_FILTERS}, "BINANCE_SPOT_MCP_REQUIRE_ELICITATION": "1"})
    import dataclasses

    settings = dataclasses.replace(settings, require_elicitation=True)
    runtime = Runtime(settings=settings)
    from mcp import Client

    try:
        async with Client(build_server(runtime), mode=mode) as client:
            body = result_json(await client.call_tool("place_order", minimal_arguments(CATALOG.get("place_order"))))
    finally:
        await runtime.aclose()
    assert body["error"] == "not_confirmed" and "require" in body["message"] and _sends(world) == 0


async def _refused(call) -> bool:
    try:
        result = await call
    except MCPError:
        return True
    return result_json(result).get("error") == "not_confirmed"


async def test_digest_check_refuses_a_state_for_other_arguments(world):
    """Below the SDK's seal: a genuine state for one request never confirms another."""
    from mcp.types import CallToolRequestParams

    from binance_spot_mcp.confirm import PendingState, binding
    from binance_spot_mcp.schema import prepare_arguments
    from binance_spot_mcp.server import Asker

    runtime = Runtime(settings=load_settings(tools_file=str(world.tools_file), environ={**loopback_environ(world.base_url, world.tools_file.parent), **NO_FILTERS}))
    endpoint = CATALOG.get("place_order")
    args = minimal_arguments(endpoint)
    account = runtime.accounts.resolve("live")
    digest = binding(endpoint, account, prepare_arguments(endpoint, {**args, "quantity": "9"}).params)
    state = PendingState("confirm", runtime.nonces.issue(60), "live", digest)

    class Ctx:  # a modern-era context whose host declares elicitation
        protocol_version = "2026-07-28"

        class session:  # noqa: N801
            from mcp.types import ClientCapabilities, ElicitationCapability

            client_capabilities = ClientCapabilities(elicitation=ElicitationCapability())

    params = CallToolRequestParams(
        name="place_order", arguments=args, request_state=state.encode(),
        input_responses={"confirm": ElicitResult(action="accept", content={"confirm": "CONFIRM"})},
    )
    try:
        result = await runtime.call("place_order", args, asker=Asker(Ctx(), params))  # type: ignore[arg-type]
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
    assert all(r.headers.get("x-mbx-apikey") == live_key for r in world.exchange.requests if r.path != "/api/v3/ticker/price")


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


def test_zz_matrix_summary(capsys):
    """Runs last in this module: the matrix's totals."""
    with capsys.disabled():
        print(f"\nCONFIRM matrix: {SUMMARY['cases']} cases, {SUMMARY['unconfirmed_sends']} unconfirmed sends, "
              f"{SUMMARY['leaks']} leaked secrets")
    assert SUMMARY["unconfirmed_sends"] == 0 and SUMMARY["leaks"] == 0
