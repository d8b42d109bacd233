"""The summary a person was shown is journaled with a refusal (issue 27, item 1: one summary for
page, card, prompt and journal): the journal line says in the server's words what was not sent."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.approval_support import Human, host, runtime_for, sends
from tests.e2e_support import ERAS

pytestmark = pytest.mark.anyio

LIMIT = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.002",
         "price": "50000", "account": "live"}


def _journal(world: Any) -> list[dict[str, Any]]:
    path = world.tools_file.parent / "journal.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("mode", ERAS)
async def test_a_declined_order_is_journaled_with_the_headline_the_person_read(world, monkeypatch, mode):
    runtime = runtime_for(world)
    human = Human("decline")
    try:
        async with host(runtime, "form", mode, human, monkeypatch) as client:
            await client.call_tool("place_order", LIMIT)
    finally:
        await runtime.aclose()
    (asked,) = human.asked
    headline = asked.splitlines()[0].removeprefix("[MAINNET · real money] ")
    assert headline.startswith("Buy 0.002 BTC at 50,000 USDT")
    intent = [e for e in _journal(world) if e.get("phase") == "intent"][-1]
    assert intent["policy"]["refused"] == "human_approval" and intent["policy"]["summary"] == headline
    assert sends(world) == 0


async def test_a_summary_that_cannot_be_written_never_stops_the_refusal_being_journaled():
    from binance_spot_mcp.approval.summary import Summary, journal_headline

    async def broken() -> Summary:
        raise RuntimeError("exchangeInfo unreadable")

    async def fine() -> Summary:
        return Summary.plain("Cancel\nAccount: live")

    assert await journal_headline(broken) == {}
    assert await journal_headline(None) == {}
    assert await journal_headline(fine) == {"summary": "Cancel"}


@pytest.mark.parametrize("channel", ["form", "url"])
async def test_an_approved_order_is_journaled_with_the_headline_the_person_approved(world, monkeypatch, channel):
    runtime = runtime_for(world)
    human = Human("approve")
    try:
        async with host(runtime, channel, "legacy", human, monkeypatch) as client:
            placed = await client.call_tool("place_order", LIMIT)
    finally:
        await runtime.aclose()
    assert not placed.is_error, placed.content[0].text
    intent = [e for e in _journal(world) if e.get("phase") == "intent"][-1]
    assert intent["approved_via"] == channel
    assert intent["approved_summary"].startswith("Buy 0.002 BTC at 50,000 USDT")
    assert sends(world) == 1
