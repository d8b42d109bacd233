"""After the decision, the page and the card tell the truth (issue 27, item 3): an order Binance
refused says so with Binance's reason, on the page reopened and on the card, as a state of its own;
never "Approved" alone, never "nothing was sent" for a request that went out."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from binance_spot_mcp.approval.card import APPROVE_TOOL
from tests.approval_support import Human, host, runtime_for, sends
from tests.e2e_support import ERAS, result_json

pytestmark = pytest.mark.anyio

# far more than the symbol's filters allow: Binance (the fake) refuses it (local filter checks are off)
# Binance refuses it after it was sent (a LIMIT_MAKER above the best ask would take); the server
# cannot know that before asking (a balance it can, and refuses before asking: test_funds_before_asking).
TOO_BIG = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT_MAKER", "quantity": "0.001", "price": "61000",
           "account": "live"}


@pytest.mark.parametrize("mode", ERAS)
async def test_a_refused_order_reopened_on_the_page_says_binance_refused_it_and_why(world, monkeypatch, mode):
    runtime = runtime_for(world)
    human = Human("approve")
    try:
        async with host(runtime, "url", mode, human, monkeypatch) as client:
            result = await client.call_tool("place_order", TOO_BIG)
            async with httpx.AsyncClient() as http:
                reopened = await http.get(human.pages[-1])
    finally:
        await runtime.aclose()
    body = result_json(result)
    assert result.is_error and body["error"] == "binance_error", body
    assert sends(world) == 1  # it went out, and was refused
    assert reopened.status_code == 200 and 'name="confirm"' not in reopened.text
    assert "<title>Refused by Binance</title>" in reopened.text
    # Binance's own words and code, as the model got them
    assert f"Sent, and Binance refused it: {body['msg']} (code {body['code']})." in reopened.text
    assert "Nothing was sent" not in reopened.text


@pytest.mark.parametrize("mode", ERAS)
async def test_the_card_shows_a_refusal_as_its_own_state_with_binances_reason(world, monkeypatch, mode):
    runtime = runtime_for(world)
    human = Human("approve")
    try:
        async with host(runtime, "apps", mode, human, monkeypatch) as client:
            pending = await client.call_tool("place_order", TOO_BIG)
            answer = await human.use_card(client, pending)
            declined_card = await client.call_tool("place_order", {**TOO_BIG, "quantity": "0.001"})
            declined = await Human("decline").use_card(client, declined_card)
    finally:
        await runtime.aclose()
    outcome = answer.structured_content["outcome"]
    assert outcome["state"] == "refused" and outcome["headline"].startswith("Sent, and Binance refused it: ")
    assert outcome["headline"].endswith(f"(code {result_json(answer)['code']}).")
    assert declined.structured_content["outcome"] == {"state": "not_sent",
                                                      "headline": "The request was declined. Nothing was sent."}
    assert sends(world) == 1


async def test_the_card_result_keeps_the_text_the_model_reads(world, monkeypatch):
    """The outcome is added for the card; the text content (what a host may pass on) is unchanged."""
    runtime = runtime_for(world)
    human = Human("approve")
    try:
        async with host(runtime, "apps", "legacy", human, monkeypatch) as client:
            pending = await client.call_tool("cancel_open_orders", {"symbol": "BTCUSDT", "account": "live"})
            answer: Any = await human.use_card(client, pending)
    finally:
        await runtime.aclose()
    assert answer.structured_content["outcome"]["state"] in ("sent", "refused")
    assert "outcome" not in answer.content[0].text
    assert APPROVE_TOOL not in answer.content[0].text
