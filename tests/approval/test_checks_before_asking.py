"""Every check runs before a person is asked (issue 27, item 2): nothing a person approves may then
be refused by a rule the server could have checked first.

The client order id is the rule that used to run after the approval: an id that passes Binance's
own character rule (at most 36 characters) but no longer fits once the server adds its ``agent-``
prefix. Every state-changing tool that names the orders it places gets such an id through every
channel (form, URL page, MCP Apps card, each in both protocol eras, and the operator's chat opt-in);
the refusal must come before any question: no prompt, no page, no card, no token, nothing journaled,
nothing sent. The operator's rules (a denied symbol, an order cap, trading off) are checked before
the approval as well (and again at send), so they too refuse before anyone is asked.
"""

from __future__ import annotations

from typing import Any

import pytest

from binance_spot_mcp.exchange.orders import CLIENT_ID_PREFIX, MAX_CLIENT_ORDER_ID_LENGTH, client_id_param
from tests.approval_support import CHANGING, Human, host, minimal_arguments, runtime_for, sends
from tests.e2e_support import result_json

pytestmark = pytest.mark.anyio

NAMING = [e for e in CHANGING if client_id_param(e) is not None]
CHANNELS = ["chat", "form-legacy", "form-auto", "url-legacy", "url-auto", "apps-legacy", "apps-auto"]
# fits Binance's rule as given, is one character too long once the prefix is added
TOO_LONG_WITH_PREFIX = "a" * (MAX_CLIENT_ORDER_ID_LENGTH - len(CLIENT_ID_PREFIX) + 1)


def test_the_tools_that_name_their_orders_are_all_covered():
    tools = {e.tool for e in NAMING}
    assert {"place_order", "cancel_replace_order", "place_sor_order", "place_order_list_oco",
            "place_order_list_oto", "place_order_list_otoco", "place_order_list_opo",
            "place_order_list_opoco", "place_oco_deprecated"} <= tools


async def _call(world: Any, monkeypatch: Any, channel: str, tool: str, arguments: dict[str, Any]) -> tuple[Any, Human, Any]:
    profile, _, mode = channel.partition("-")
    runtime = runtime_for(world, allow_chat_confirm=True) if profile == "chat" else runtime_for(world)
    human = Human("approve")
    try:
        async with host(runtime, "none" if profile == "chat" else profile, mode or "legacy", human, monkeypatch) as client:
            result = await client.call_tool(tool, arguments)
    finally:
        await runtime.aclose()
    return result, human, runtime


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("tool", [e.tool for e in NAMING])
async def test_a_client_id_too_long_with_the_prefix_is_refused_before_anyone_is_asked(world, monkeypatch, channel, tool):
    endpoint = next(e for e in NAMING if e.tool == tool)
    name = client_id_param(endpoint)
    arguments = {**minimal_arguments(endpoint), name: TOO_LONG_WITH_PREFIX}
    journal_file = world.tools_file.parent / "journal.jsonl"
    journal_before = journal_file.read_text() if journal_file.exists() else ""
    result, human, _ = await _call(world, monkeypatch, channel, tool, arguments)
    body = result_json(result)
    assert result.is_error, body
    assert body["error"] == "invalid_arguments" and f"'{CLIENT_ID_PREFIX}' prefix" in body["message"], body
    assert human.asked == [] and human.pages == []  # no prompt, no page
    assert "approval_pending" not in str(body) and "confirmation_token" not in body  # no card, no chat token
    assert result.meta is None or "io.github.binance-spot-mcp/approval" not in result.meta
    assert sends(world) == 0
    journal_after = journal_file.read_text() if journal_file.exists() else ""
    assert journal_after == journal_before  # no refused approval to journal: nobody was asked


@pytest.mark.parametrize("channel", ["form-legacy", "url-auto", "apps-auto"])
async def test_an_id_that_fits_with_the_prefix_is_still_asked_and_sent(world, monkeypatch, channel):
    """The check refuses only what would fail: the longest id that fits goes through the approval."""
    arguments = {**minimal_arguments(next(e for e in NAMING if e.tool == "place_order")),
                 "newClientOrderId": TOO_LONG_WITH_PREFIX[1:]}
    result, human, _ = await _call(world, monkeypatch, channel, "place_order", arguments)
    if channel.startswith("apps"):
        assert result_json(result)["status"] == "approval_pending"
    else:
        assert len(human.asked) == 1 and sends(world) == 1, result


RULES = {
    "denied symbol": "- Denied Symbols: BTCUSDT\n",
    "order cap": "- Max Order Value: 10 USDT\n",
}


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("rule", [*RULES, "trading off"])
async def test_the_operators_rules_refuse_before_anyone_is_asked(world, monkeypatch, channel, rule):
    """The guard rails run before the approval (and again at send): a refused order asks nobody."""
    if rule in RULES:
        world.tools_file.write_text(world.tools_file.read_text() + RULES[rule])  # live is the last entry
    arguments = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.002",
                 "price": "50000", "account": "live"}
    profile, _, mode = channel.partition("-")
    extra = {"BINANCE_SPOT_MCP_TRADING": "off"} if rule == "trading off" else None
    runtime = runtime_for(world, extra_env=extra, **({"allow_chat_confirm": True} if profile == "chat" else {}))
    human = Human("approve")
    try:
        async with host(runtime, "none" if profile == "chat" else profile, mode or "legacy", human, monkeypatch) as client:
            result = await client.call_tool("place_order", arguments)
    finally:
        await runtime.aclose()
    body = result_json(result)
    assert result.is_error and body["error"] == "policy_refused", body
    assert {"denied symbol": "denied symbol", "order cap": "per order", "trading off": "trading"}[rule] in body["message"], body
    assert human.asked == [] and human.pages == [] and "confirmation_token" not in body
    assert result.meta is None or "io.github.binance-spot-mcp/approval" not in result.meta
    assert sends(world) == 0
