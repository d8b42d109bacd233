"""``get_safety_status``: what guards this server, in one read-only answer (admin toolset).

The server's mode (toolsets, read-only, kill switch), and for each account its environment,
destination host, the approval channel this host gets, the guard rails in force and what remains
of today's budget. Never a key or a secret. ``doctor`` prints the same rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from mcp.types import Tool, ToolAnnotations

from binance_spot_mcp import killswitch
from binance_spot_mcp.accounts import Account
from binance_spot_mcp.config import MAINNET, Settings
from binance_spot_mcp.policy import requires_approval
from binance_spot_mcp.toolsets import Selection

SAFETY_STATUS = "get_safety_status"
SAFETY_TOOL = Tool(
    name=SAFETY_STATUS,
    title="Safety status",
    description="Show the kill switch and each account's approval, caps and budget left today.",
    input_schema={"type": "object", "properties": {}, "additionalProperties": False},
    annotations=ToolAnnotations(read_only_hint=True, open_world_hint=False),
)

NOT_ASKED = "none (testnet/demo changes are not asked; Confirm: mainnet)"
BY_FORM = "the human approves each change in a form this host shows (elicitation)"
REFUSED = "none possible: this host cannot show a form and the server requires one, so changes are refused"
BY_TOKEN = "the human types CONFIRM in the chat; the call is repeated with a single-use token"


def approval_channel(account: Account, *, can_elicit: bool, require_elicitation: bool) -> str:
    """How a change on ``account`` gets approved when asked from this host."""
    if account.environment != MAINNET and not requires_approval(account):
        return NOT_ASKED
    if can_elicit:
        return BY_FORM
    return REFUSED if require_elicitation else BY_TOKEN


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
    can_elicit: bool,
    problems: Sequence[str] = (),
) -> dict[str, Any]:
    """The payload of get_safety_status; ``rows`` is ``Guard.status``."""

    def channel(account: Account) -> str:
        return approval_channel(account, can_elicit=can_elicit, require_elicitation=settings.require_elicitation)

    payload: dict[str, Any] = {"server": server_mode(settings, selection), "accounts": await rows(accounts, channel)}
    if problems:
        payload["account_problems"] = list(problems)
    return payload
