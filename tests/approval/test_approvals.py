"""Only a human approves a mainnet change: every state-changing tool x host channels x answers x eras.

Each case counts, at the fake exchange, the state-changing requests that arrived: exactly one when a
human approved that request through a channel the model cannot drive, none otherwise.
"""

from __future__ import annotations

from typing import Any

import pytest
from mcp.shared.exceptions import MCPError

from tests.approval_support import CHANGING, Human, host, minimal_arguments, runtime_for, sends
from tests.e2e_support import ERAS, result_json, transcript

pytestmark = pytest.mark.anyio

CHANNEL_PROFILES = ["form", "url", "apps", "form+url"]
ANSWERS = ["approve", "decline", "cancel", "wrong_text", "timeout"]
SHORT_WAIT_S = 0.2  # the server's wait for a human in the timeout cases


def _approved(result: Any) -> bool:
    """The request went out (the exchange may still have refused it, e.g. no open orders to cancel)."""
    return result_json(result).get("error") != "not_confirmed"


def _no_leak(world, seen: list[Any]) -> None:
    text = transcript(seen)
    assert not [s for s in world.keys.sensitive() if s in text]


async def _run_case(client, runtime, world, human: Human, profile: str, mode: str, endpoint, clock) -> tuple[int, Any]:
    """One tool call as the human answers it; returns (requests sent, last result)."""
    before = sends(world)
    args = minimal_arguments(endpoint)
    if "form" in profile and mode == "auto" and human.action == "timeout":
        # modern era: the host asks and the human answers after the 5-minute window
        human.action = "approve"
        human.on_ask = lambda: clock.__setitem__("now", clock["now"] + 301)
    try:
        result = await client.call_tool(endpoint.tool, args)
    except MCPError:
        return sends(world) - before, None
    if profile == "apps":
        body = result_json(result)
        assert not result.is_error and body["status"] == "approval_pending" and body["sent"] is False, body
        assert sends(world) == before, "nothing is sent before the card is used"
        if human.action == "cancel":
            return sends(world) - before, result  # the human closed the card
        if human.action == "timeout":
            clock["now"] += 301
        result = await human.use_card(client, result)
    return sends(world) - before, result


@pytest.mark.parametrize("mode", ERAS)
@pytest.mark.parametrize("profile", CHANNEL_PROFILES)
@pytest.mark.parametrize("answer", ANSWERS)
async def test_every_changing_tool_is_sent_only_when_a_human_approved(world, monkeypatch, mode, profile, answer):
    runtime = runtime_for(world)
    if answer == "timeout":
        runtime.gate.elicitation_timeout_s = SHORT_WAIT_S
    clock = {"now": 0.0}
    runtime.gate.nonces._clock = lambda: clock["now"]  # noqa: SLF001 - drive expiry without waiting
    runtime.gate.book._clock = lambda: clock["now"]  # noqa: SLF001
    seen: list[Any] = []
    cases = 0
    try:
        for endpoint in CHANGING:
            human = Human(answer)
            async with host(runtime, profile, mode, human, monkeypatch) as client:
                sent, result = await _run_case(client, runtime, world, human, profile, mode, endpoint, clock)
            cases += 1
            if result is not None:
                seen.append(result)
            if answer == "approve":
                assert sent == 1, (endpoint.tool, result)
                # arbitrary schema-valid arguments: the exchange may still refuse them, but they were sent
                assert result is not None and result_json(result).get("error") != "not_confirmed"
                assert human.asked, "the human saw a preview"
                assert "live" in human.asked[-1] and "MAINNET" in human.asked[-1]
            else:
                assert sent == 0, (endpoint.tool, answer, result)
                if result is not None and not (profile == "apps" and answer == "cancel"):
                    body = result_json(result)
                    assert result.is_error and body["error"] == "not_confirmed", (endpoint.tool, body)
                    assert "Nothing was sent" in body["message"]
    finally:
        await runtime.aclose()
    assert cases == len(CHANGING) == 13
    _no_leak(world, seen)


@pytest.mark.parametrize("mode", ERAS)
async def test_without_a_channel_nothing_is_sent_whatever_the_model_passes(world, monkeypatch, mode):
    runtime = runtime_for(world)
    try:
        async with host(runtime, "none", mode, None, monkeypatch) as client:
            for endpoint in CHANGING:
                args = minimal_arguments(endpoint)
                first = result_json(await client.call_tool(endpoint.tool, args))
                assert first["error"] == "not_confirmed" and "no channel" in first["message"]
                assert "confirmation_token" not in first
                assert "--allow-chat-confirm" in first["hint"]
                forged = await client.call_tool(
                    endpoint.tool, {**args, "confirm": "CONFIRM", "confirmation_token": "abcd1234.x.y"}
                )
                assert result_json(forged)["error"] == "not_confirmed"
            assert sends(world) == 0
            # reads and Binance's test endpoints need no approval
            assert not (await client.call_tool("get_account", {"account": "live"})).is_error
    finally:
        await runtime.aclose()


@pytest.mark.parametrize("mode", ERAS)
@pytest.mark.parametrize("opt_in", ["server", "account"])
async def test_chat_confirm_only_where_the_operator_opted_in(world, monkeypatch, mode, opt_in):
    if opt_in == "account":
        text = world.tools_file.read_text().replace("- Testnet: false", "- Testnet: false\n- Chat Confirm: true")
        world.tools_file.write_text(text)
        runtime = runtime_for(world)
    else:
        runtime = runtime_for(world, allow_chat_confirm=True)
    try:
        async with host(runtime, "none", mode, None, monkeypatch) as client:
            for endpoint in CHANGING:
                args = minimal_arguments(endpoint)
                before = sends(world)
                first = await client.call_tool(endpoint.tool, args)
                body = result_json(first)
                assert not first.is_error and body["status"] == "confirmation_required"
                assert "only as trustworthy as the model" in body["trust"]
                token = body["confirmation_token"]
                wrong = await client.call_tool(endpoint.tool, {**args, "confirm": "do NOT CONFIRM", "confirmation_token": token})
                assert result_json(wrong)["error"] == "not_confirmed"
                other = dict(args, symbol="ETHUSDT") if "symbol" in args else dict(args, account="main")
                assert (await client.call_tool(endpoint.tool, {**other, "confirm": "CONFIRM", "confirmation_token": token})).is_error
                assert sends(world) == before
                ok = await client.call_tool(endpoint.tool, {**args, "confirm": "CONFIRM", "confirmation_token": token})
                assert sends(world) == before + 1, ok
                replay = await client.call_tool(endpoint.tool, {**args, "confirm": "CONFIRM", "confirmation_token": token})
                assert result_json(replay)["error"] == "not_confirmed" and sends(world) == before + 1
    finally:
        await runtime.aclose()
    entries = [e for e in runtime.journal.latest(200) if e.get("phase") == "intent"]
    sent = [e for e in entries if e["approved_via"] != "not approved"]
    assert len(sent) == 13 and all(e["approved_via"] == "chat" for e in sent)
    # the wrong text, the other arguments and the replay: journaled as refused, each of the 13 tools
    assert len(entries) - len(sent) == 3 * 13


@pytest.mark.parametrize("mode", ERAS)
async def test_require_elicitation_closes_the_chat_path_even_when_opted_in(world, monkeypatch, mode):
    runtime = runtime_for(world, allow_chat_confirm=True, require_elicitation=True)
    try:
        async with host(runtime, "none", mode, None, monkeypatch) as client:
            body = result_json(await client.call_tool("cancel_open_orders", {"symbol": "BTCUSDT", "account": "live"}))
    finally:
        await runtime.aclose()
    assert body["error"] == "not_confirmed" and "require" in body["message"] and sends(world) == 0


async def test_a_chat_token_from_one_session_is_refused_in_another(world, monkeypatch):
    runtime = runtime_for(world, allow_chat_confirm=True)
    args = {"symbol": "BTCUSDT", "account": "live"}
    try:
        async with host(runtime, "none", "legacy", None, monkeypatch) as first:
            token = result_json(await first.call_tool("cancel_open_orders", args))["confirmation_token"]
            async with host(runtime, "none", "legacy", None, monkeypatch) as second:
                stolen = await second.call_tool("cancel_open_orders", {**args, "confirm": "CONFIRM", "confirmation_token": token})
            assert result_json(stolen)["error"] == "not_confirmed" and sends(world) == 0
            ok = await first.call_tool("cancel_open_orders", {**args, "confirm": "CONFIRM", "confirmation_token": token})
            assert _approved(ok) and sends(world) == 1
    finally:
        await runtime.aclose()


async def test_a_token_from_before_a_restart_says_so(world, monkeypatch):
    args = {"symbol": "BTCUSDT", "account": "live"}
    old = runtime_for(world, allow_chat_confirm=True)
    new = runtime_for(world, allow_chat_confirm=True)
    try:
        async with host(old, "none", "auto", None, monkeypatch) as client:
            token = result_json(await client.call_tool("cancel_open_orders", args))["confirmation_token"]
        async with host(new, "none", "auto", None, monkeypatch) as client:
            body = result_json(await client.call_tool("cancel_open_orders", {**args, "confirm": "CONFIRM", "confirmation_token": token}))
    finally:
        await old.aclose()
        await new.aclose()
    assert body["error"] == "not_confirmed" and "restarted" in body["message"] and sends(world) == 0


def _swap_live_key(world) -> None:
    """Another key behind the same account name (what a hostile edit of TOOLS.md would do); a
    second call swaps it back."""
    text = world.tools_file.read_text()
    real, other = world.keys.live_secret, world.keys.live_secret[::-1]
    swapped = text.replace(real, other) if real in text else text.replace(other, real)
    assert swapped != text
    world.tools_file.write_text(swapped)


@pytest.mark.parametrize("mode", ERAS)
@pytest.mark.parametrize("profile", ["form", "url"])
async def test_a_key_swapped_while_the_human_reads_voids_the_approval(world, monkeypatch, mode, profile):
    runtime = runtime_for(world)
    human = Human("approve", on_ask=lambda: _swap_live_key(world))
    try:
        async with host(runtime, profile, mode, human, monkeypatch) as client:
            result = await client.call_tool("cancel_open_orders", {"symbol": "BTCUSDT", "account": "live"})
    finally:
        await runtime.aclose()
    assert human.asked and result.is_error and result_json(result)["error"] == "not_confirmed", result
    assert sends(world) == 0


@pytest.mark.parametrize("mode", ERAS)
async def test_card_approval_is_bound_to_key_session_and_single_use(world, monkeypatch, mode):
    runtime = runtime_for(world)
    args = {"symbol": "BTCUSDT", "account": "live"}
    human = Human("approve")
    try:
        async with host(runtime, "apps", mode, human, monkeypatch) as client:
            # key swapped between the card and the click: refused
            pending = await client.call_tool("cancel_open_orders", args)
            _swap_live_key(world)
            swapped = await human.use_card(client, pending)
            assert result_json(swapped)["error"] == "not_confirmed" and sends(world) == 0
            _swap_live_key(world)  # back to the registered key
            # a fresh card: approved once, then replayed
            pending = await client.call_tool("cancel_open_orders", args)
            assert _approved(await human.use_card(client, pending)) and sends(world) == 1
            replay = await human.use_card(client, pending)
            assert result_json(replay)["error"] == "not_confirmed" and sends(world) == 1
            # wrong and foreign credentials
            pending = await client.call_tool("cancel_open_orders", args)
            creds = pending.meta["io.github.binance-spot-mcp/approval"]
            for bad in ({"approval_id": creds["approval_id"], "secret": "guess"},
                        {"approval_id": "0000000000000000", "secret": creds["secret"]},
                        {"approval_id": creds["approval_id"], "secret": creds["secret"][:-1]}):
                refused = await client.call_tool("approve_request", {**bad, "decision": "approve", "confirm": "CONFIRM"})
                assert refused.is_error and sends(world) == 1
            if mode == "legacy":  # sessions exist in the handshake era: another session cannot approve
                async with host(runtime, "apps", mode, human, monkeypatch) as other:
                    foreign = await human.use_card(other, pending)
                assert foreign.is_error and sends(world) == 1
            assert _approved(await human.use_card(client, pending)) and sends(world) == 2
    finally:
        await runtime.aclose()


@pytest.mark.parametrize("mode", ERAS)
async def test_the_model_never_sees_the_card_secret(world, monkeypatch, mode):
    runtime = runtime_for(world)
    try:
        async with host(runtime, "apps", mode, Human(), monkeypatch) as client:
            pending = await client.call_tool("cancel_open_orders", {"symbol": "BTCUSDT", "account": "live"})
    finally:
        await runtime.aclose()
    secret = pending.meta["io.github.binance-spot-mcp/approval"]["secret"]
    model_visible = "".join(c.text for c in pending.content) + str(pending.structured_content)
    assert secret not in model_visible and "approval_pending" in model_visible


@pytest.mark.parametrize("mode", ERAS)
async def test_url_approval_state_cannot_be_replayed_or_moved_to_other_arguments(world, monkeypatch, mode):
    runtime = runtime_for(world)
    human = Human("approve")
    args = {"symbol": "BTCUSDT", "account": "live"}
    try:
        async with host(runtime, "url", mode, human, monkeypatch) as client:
            assert _approved(await client.call_tool("cancel_open_orders", args)) and sends(world) == 1
            page_url = human.pages[-1]
            import httpx

            async with httpx.AsyncClient() as http:
                spent = await http.get(page_url)  # it approves nothing now: it says what happened
            assert spent.status_code == 200 and 'name="confirm"' not in spent.text
            assert "Approved at " in spent.text and "Nothing was sent" not in spent.text
            if mode == "auto":
                session = client.session
                first = await session.call_tool("cancel_open_orders", args, allow_input_required=True)
                page = await (__import__("tests.approval_support", fromlist=["open_page"]).open_page)(
                    first.input_requests["approve"].params.url
                )
                await page.submit(confirm="CONFIRM")
                from mcp.types import ElicitResult

                accept = {"approve": ElicitResult(action="accept")}
                try:
                    moved = await session.call_tool(
                        "cancel_open_orders", {**args, "symbol": "ETHUSDT"}, allow_input_required=True,
                        input_responses=accept, request_state=first.request_state,
                    )
                except MCPError:
                    pass  # the SDK's seal binds the state to the request
                else:
                    assert result_json(moved)["error"] == "not_confirmed"
                assert sends(world) == 1
    finally:
        await runtime.aclose()


@pytest.mark.parametrize("mode", ERAS)
async def test_over_stdio_a_mainnet_change_waits_for_the_human(world, mode):
    """The console script over stdio: refused with no channel, sent once the human approves."""
    from tests.e2e_support import stdio_client_for

    args = {"symbol": "BTCUSDT", "account": "live"}
    async with stdio_client_for(world.tools_file, mode, base_url=world.base_url) as (bare, _):
        refused = result_json(await bare.call_tool("cancel_open_orders", args))
    assert refused["error"] == "not_confirmed" and sends(world) == 0
    human = Human("approve")
    async with stdio_client_for(world.tools_file, mode, base_url=world.base_url,
                                elicitation_callback=human.callback) as (client, _):
        result = await client.call_tool("cancel_open_orders", args)
    assert _approved(result) and sends(world) == 1 and "MAINNET" in human.asked[-1]
