"""A change the human did not approve is journaled, and never counts toward a daily total
(issue 22, finding 6).

Declined, cancelled, timed-out and mistyped approvals, a host with no approval channel and a bad
chat token each leave one intent (``approved_via: not approved``, ``policy.refused:
human_approval`` and the reason) and one outcome (``ok: false``, ``not_sent: <reason>``), exactly
as guard-rail refusals do. Nothing reaches the exchange.
"""

from __future__ import annotations

from typing import Any

import pytest

from binance_spot_mcp.approval.gate import REASONS
from binance_spot_mcp.cli.listings import journal_line
from binance_spot_mcp.guard.daily import counts  # "did this journaled request (maybe) place an order?"
from tests.approval_support import (
    CATALOG,
    Human,
    host,
    minimal_arguments,
    runtime_for,
    sends,
)
from tests.e2e_support import result_json

pytestmark = pytest.mark.anyio

PLACE = CATALOG.get("place_order")
SHORT_WAIT_S = 0.2
LONG_WAIT_S = 30.0  # a bound, never waited out: every non-timeout human answers at once
CASES = [
    # (host profile, era, what the human does, reason journaled)
    *[(p, m, a, r) for p in ("form", "url") for m in ("legacy", "auto") for a, r in (
        ("decline", "approval_declined"),
        ("cancel", "approval_cancelled"),
        ("wrong_text", "approval_wrong_text"),
        ("timeout", "approval_timed_out"),
    )],
    *[("apps", m, a, r) for m in ("legacy", "auto") for a, r in (
        ("decline", "approval_declined"),
        ("wrong_text", "approval_wrong_text"),
        ("timeout", "approval_timed_out"),
        ("cancel", "approval_cancelled"),  # the card is never used; the server stops
    )],
    ("none", "legacy", "-", "no_approval_channel"),
    ("none", "auto", "-", "no_approval_channel"),
    ("chat", "legacy", "wrong_text", "approval_wrong_text"),
    ("chat", "legacy", "bad_token", "approval_invalid"),
]


async def _refuse(world, monkeypatch, profile: str, mode: str, action: str):
    """One place_order the human does not approve; returns the runtime (closed) and the result."""
    runtime = runtime_for(world, allow_chat_confirm=profile == "chat")
    clock = {"now": 0.0}
    runtime.gate.nonces._clock = lambda: clock["now"]
    runtime.gate.book._clock = lambda: clock["now"]
    # Only a human who lets it time out gets the short wait: the others must answer in time
    # however slow the machine (a decline through the URL page takes several HTTP round trips).
    runtime.gate.elicitation_timeout_s = SHORT_WAIT_S if action == "timeout" else LONG_WAIT_S
    args = minimal_arguments(PLACE)
    human = Human(action)
    if profile == "form" and mode == "auto" and action == "timeout":
        human.action = "approve"  # answered, but after the 5 minutes
        human.on_ask = lambda: clock.__setitem__("now", clock["now"] + 301)
    try:
        if profile == "chat":
            async with host(runtime, "none", mode, None, monkeypatch) as client:
                token = result_json(await client.call_tool(PLACE.tool, args))["confirmation_token"]
                if action == "bad_token":
                    token = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
                typed = "CONFIRM" if action == "bad_token" else "CONFIRM please"
                result = await client.call_tool(PLACE.tool, {**args, "confirm": typed, "confirmation_token": token})
        else:
            async with host(runtime, profile, mode, human, monkeypatch) as client:
                result = await client.call_tool(PLACE.tool, args)
                if profile == "apps":
                    assert result_json(result)["status"] == "approval_pending"
                    if action == "cancel":
                        result = None  # the human closes the card; the runtime then stops
                    elif action == "timeout":
                        clock["now"] += 301
                    if result is not None:
                        result = await human.use_card(client, result)
    finally:
        await runtime.aclose()
    return runtime, result


@pytest.mark.parametrize(("profile", "mode", "action", "reason"), CASES, ids=lambda v: str(v))
async def test_a_refusal_by_the_human_is_journaled_and_never_counted(world, monkeypatch, profile, mode, action, reason):
    runtime, result = await _refuse(world, monkeypatch, profile, mode, action)
    assert result is None or (result.is_error and result_json(result)["error"] == "not_confirmed"), result
    assert sends(world) == 0
    entries = runtime.journal.latest(100)
    intents = [e for e in entries if e.get("phase") == "intent"]
    assert len(intents) == 1, entries
    intent = intents[0]
    assert intent["tool"] == "place_order" and intent["account"] == "live" and intent["environment"] == "mainnet"
    assert intent["approved_via"] == "not approved"
    assert intent["policy"]["refused"] == "human_approval" and intent["policy"]["reason"] == reason
    assert intent["params"]["symbol"] == "BTCUSDT"
    outcomes = [e for e in entries if e.get("phase") == "outcome" and e["id"] == intent["id"]]
    assert len(outcomes) == 1, entries
    assert outcomes[0]["ok"] is False and outcomes[0]["summary"]["not_sent"] == reason
    assert reason in REASONS
    # neither half alone lets it count: a crash between the two lines still leaves it out
    assert not counts(intent, outcomes[0]) and not counts(intent, None)
    journal_text = runtime.journal.path.read_text()
    assert not [s for s in world.keys.sensitive() if s in journal_text]
    # ``binance-spot-mcp journal`` says so in words, never "approved via not approved"
    line = journal_line(intent)
    assert "NOT approved by the human (not sent)" in line and "approved via" not in line


async def test_an_approved_change_is_journaled_as_approved_not_as_refused(world, monkeypatch):
    runtime = runtime_for(world)
    try:
        async with host(runtime, "form", "legacy", Human("approve"), monkeypatch) as client:
            await client.call_tool(PLACE.tool, minimal_arguments(PLACE))
    finally:
        await runtime.aclose()
    intents = [e for e in runtime.journal.latest(100) if e.get("phase") == "intent"]
    assert sends(world) == 1 and len(intents) == 1
    assert intents[0]["approved_via"] == "form" and "refused" not in (intents[0].get("policy") or {})


def _journal_fails(*_: Any, **__: Any) -> Any:
    raise OSError("disk full")


async def test_a_journal_that_cannot_be_written_does_not_turn_a_refusal_into_a_send(world, monkeypatch):
    runtime = runtime_for(world)
    monkeypatch.setattr(runtime.journal, "record_intent", _journal_fails)
    try:
        async with host(runtime, "form", "legacy", Human("decline"), monkeypatch) as client:
            result = await client.call_tool(PLACE.tool, minimal_arguments(PLACE))
    finally:
        await runtime.aclose()
    assert result_json(result)["error"] == "not_confirmed" and sends(world) == 0
