"""What "exactly CONFIRM" means, the same on every channel (issue 22, finding 16).

CONFIRM approves with ASCII spaces (U+0020) around it and nothing else: no other kind of space
(no-break, ideographic, tab, line break), no invisible character, no look-alike, no other case.
The chat path, the form elicitation, the URL page and the MCP Apps card all ask one function
(``approval.confirm.is_confirm_text``); each case counts what reached the fake exchange.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.approval_support import Human, host, runtime_for, sends
from tests.e2e_support import result_json

pytestmark = pytest.mark.anyio

ARGS = {"symbol": "BTCUSDT", "account": "live"}
ACCEPTED = ["CONFIRM", " CONFIRM", "CONFIRM ", "  CONFIRM  "]
REFUSED = [
    "\u00a0CONFIRM\u00a0",  # no-break spaces
    "\u3000CONFIRM\u3000",  # ideographic spaces
    "CONFIRM\u202f",  # narrow no-break space
    "\u2003CONFIRM",  # em space
    "\tCONFIRM",
    "CONFIRM\n",
    "CONFIRM\r\n",
    "\u200bCONFIRM",  # zero-width space
    "CONFIRM\ufeff",
    "CONF\u200dIRM",
    "\uff23\uff2f\uff2e\uff26\uff29\uff32\uff2d",  # full-width letters
    "confirm",
    "CONFIRMED",
    "",
    " ",
]
CHANNELS = ["chat", "form-legacy", "form-auto", "url-legacy", "url-auto", "apps-legacy", "apps-auto"]


@dataclass
class Typist(Human):
    """A human who types ``text`` wherever CONFIRM is asked for."""

    text: str = "CONFIRM"

    def typed(self) -> str:
        return self.text


async def _send_with(world, monkeypatch, channel: str, text: str) -> tuple[int, Any]:
    """One cancel_open_orders call approved by typing ``text`` through ``channel``."""
    profile, _, mode = channel.partition("-")
    if profile == "chat":
        runtime = runtime_for(world, allow_chat_confirm=True)
    else:
        runtime = runtime_for(world)
    human = Typist("approve", text=text)
    try:
        if profile == "chat":
            async with host(runtime, "none", "legacy", None, monkeypatch) as client:
                token = result_json(await client.call_tool("cancel_open_orders", ARGS))["confirmation_token"]
                result = await client.call_tool("cancel_open_orders", {**ARGS, "confirm": text, "confirmation_token": token})
        else:
            async with host(runtime, profile, mode, human, monkeypatch) as client:
                result = await client.call_tool("cancel_open_orders", ARGS)
                if profile == "apps":
                    result = await human.use_card(client, result, confirm=text)
    finally:
        await runtime.aclose()
    return sends(world), result


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("text", ACCEPTED, ids=lambda t: repr(t))
async def test_confirm_with_ascii_spaces_around_it_approves_on_every_channel(world, monkeypatch, channel, text):
    sent, result = await _send_with(world, monkeypatch, channel, text)
    assert sent == 1, (channel, text, result)


@pytest.mark.parametrize("channel", CHANNELS)
# ids without backslashes: pytest escapes a backslash in an id again in every session of one process,
# so mutmut (which re-runs tests in-process) could not select them by id
@pytest.mark.parametrize("text", REFUSED, ids=lambda t: t.encode("unicode_escape").decode("ascii").replace("\\", "^") or "empty")
async def test_anything_else_sends_nothing_on_every_channel(world, monkeypatch, channel, text):
    sent, result = await _send_with(world, monkeypatch, channel, text)
    assert sent == 0, (channel, text, result)
    # not_confirmed; on the chat path a control character is refused earlier, as invalid input
    assert result.is_error and result_json(result)["error"] in ("not_confirmed", "invalid_arguments"), result
