"""Policy for state-changing requests.

A request that changes state on a mainnet account needs the human's typed CONFIRM. Until the
confirmation flow (elicitation) exists, such requests are refused here, before anything is
built or sent. Testnet and demo accounts are not asked; reads and ``.../test`` endpoints never.
"""

from __future__ import annotations

from binance_spot_mcp.accounts import Account
from binance_spot_mcp.catalog import Endpoint
from binance_spot_mcp.config import MAINNET
from binance_spot_mcp.errors import PolicyError


def needs_confirmation(endpoint: Endpoint, account: Account | None) -> bool:
    return endpoint.changes_state and account is not None and account.environment == MAINNET


def check_allowed(endpoint: Endpoint, account: Account | None) -> None:
    """Raise ``PolicyError`` when the request may not be sent as it is."""
    if needs_confirmation(endpoint, account):
        assert account is not None
        raise PolicyError(
            f"{endpoint.tool} would change state on the mainnet account '{account.name}' (real money). "
            "This server version cannot ask the human to type CONFIRM yet, so it refuses; nothing was sent.",
            hint="Use a testnet or demo account for trading, or place the order on binance.com yourself.",
        )
