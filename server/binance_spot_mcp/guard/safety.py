"""``get_safety_status``: what guards this server, in one read-only answer (admin toolset).

The server's mode (toolsets, read-only, kill switch), and for each account its environment,
destination host, the approval channel this host gets, the guard rails in force and what remains
of today's budget. Never a key or a secret. ``doctor`` prints the same rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from mcp.types import Tool, ToolAnnotations

from binance_spot_mcp.accounts.reading import Account
from binance_spot_mcp.catalog.toolsets import Selection
from binance_spot_mcp.config import Settings
from binance_spot_mcp.guard import killswitch
from binance_spot_mcp.policy import requires_approval

SAFETY_STATUS = "get_safety_status"
SAFETY_TOOL = Tool(
    name=SAFETY_STATUS,
    title="Safety status",
    description="Show the kill switch and each account's approval, caps and budget left today.",
    input_schema={"type": "object", "properties": {}, "additionalProperties": False},
    annotations=ToolAnnotations(read_only_hint=True, open_world_hint=False),
)

NOT_ASKED = "none (testnet/demo changes are not asked; Confirm: mainnet)"
CHANNEL_WORDS = {
    "form": "the human types CONFIRM in a form this host shows (form elicitation)",
    "url": "the human opens a one-time page on this machine and types CONFIRM there (URL elicitation)",
    "app": "the human types CONFIRM in a confirmation card this host shows (MCP Apps)",
    "chat": (
        "the human types CONFIRM in the chat and the model relays it with a single-use token "
        "(operator opt-in; only as trustworthy as the model)"
    ),
}
REFUSED = "none possible: this host offers no approval channel the model cannot drive, so changes are refused"


def describe_channel(account: Account, channel: str | None) -> str:
    """How a change on ``account`` gets approved from this host; ``channel`` is the gate's choice
    (form, url, app, chat, or None when the host offers nothing usable)."""
    if not account.is_mainnet and not requires_approval(account):
        return NOT_ASKED
    return CHANNEL_WORDS.get(str(channel), REFUSED) if channel is not None else REFUSED


def server_mode(settings: Settings, selection: Selection) -> dict[str, Any]:
    return {
        "tools": selection.describe(),
        "read_only": selection.read_only,
        **killswitch.state(settings).describe(),
        "halt_file": str(killswitch.halt_path(settings)),
        "journal": str(settings.journal_file),
    }


async def safety_status(
    settings: Settings,
    selection: Selection,
    accounts: Sequence[Account],
    rows: Callable[[Sequence[Account], Callable[[Account], str]], Any],
    *,
    channel: Callable[[Account], str],
    problems: Sequence[str] = (),
) -> dict[str, Any]:
    """The payload of get_safety_status; ``rows`` is ``Guard.status``, ``channel`` describes each
    account's approval channel from this host (``describe_channel``)."""
    payload: dict[str, Any] = {"server": server_mode(settings, selection), "accounts": await rows(accounts, channel)}
    if problems:
        payload["account_problems"] = list(problems)
    return payload
