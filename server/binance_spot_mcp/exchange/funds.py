"""Is there enough free balance for an order? Asked before a human is asked to approve it.

Only what is certain is checked, so no order Binance would accept is ever refused here:
a SELL needs its ``quantity`` of the base asset; a LIMIT-priced BUY needs ``quantity x price`` of
the quote asset; a MARKET BUY by ``quoteOrderQty`` needs that amount. A MARKET BUY by quantity
(its price is not known yet), stops, order lists and anything unparsable are left to Binance.
When the balances cannot be read, nothing is refused.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from binance_spot_mcp.errors import BinanceSpotError
from binance_spot_mcp.exchange.filters import symbol_entry
from binance_spot_mcp.exchange.order_legs import order_legs

logger = logging.getLogger(__name__)
CHECKED_TOOLS = frozenset({"place_order"})
PRICED_TYPES = frozenset({"LIMIT", "LIMIT_MAKER"})


def needed(tool: str, params: Mapping[str, str], info: Mapping[str, Any] | None) -> tuple[str, Decimal] | None:
    """(asset, amount) the order certainly needs free, or None when that is not certain."""
    if tool not in CHECKED_TOOLS:
        return None
    entry = symbol_entry(info, params.get("symbol"))
    if entry is None or not isinstance(entry.get("baseAsset"), str) or not isinstance(entry.get("quoteAsset"), str):
        return None
    legs = order_legs(tool, params)
    if len(legs) != 1:
        return None
    leg = legs[0]
    if leg.pegged:
        return None
    if leg.side == "SELL" and leg.quantity is not None:
        return entry["baseAsset"], leg.quantity
    if leg.side == "BUY" and leg.type in PRICED_TYPES and leg.quantity is not None and leg.price is not None:
        return entry["quoteAsset"], leg.quantity * leg.price
    if leg.side == "BUY" and leg.type == "MARKET" and leg.quote_qty is not None:
        return entry["quoteAsset"], leg.quote_qty
    return None


def free_of(account_reply: Any, asset: str) -> Decimal | None:
    if not isinstance(account_reply, Mapping) or not isinstance(account_reply.get("balances"), list):
        return None
    for row in account_reply["balances"]:
        if isinstance(row, Mapping) and row.get("asset") == asset:
            try:
                return Decimal(str(row.get("free")))
            except (InvalidOperation, ValueError):
                return None
    return Decimal(0)  # Binance lists every asset the account holds; one not listed is held at 0


async def shortfall(
    tool: str, params: Mapping[str, str], info: Mapping[str, Any] | None, read_account: Callable[[], Awaitable[Any]]
) -> str | None:
    """Why the account certainly cannot pay for this order, or None (enough, or not certain)."""
    need = needed(tool, params, info)
    if need is None:
        return None
    asset, amount = need
    try:
        free = free_of(await read_account(), asset)
    except BinanceSpotError as exc:
        logger.info("balances not read before approval (%s); the exchange will check", exc.message)
        return None
    if free is None or not free.is_finite() or free >= amount:
        return None
    return (f"the order needs {format(amount.normalize(), 'f')} {asset} free and the account has "
            f"{format(free.normalize(), 'f')} {asset}")
