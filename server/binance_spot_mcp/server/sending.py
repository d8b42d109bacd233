"""The send path of a state-changing call, after the guard and the approval (invariant 4).

The client order id is set, the intent is on disk before anything leaves, the request is sent
once under the guard's send-time check, and the outcome is journaled. When the reply of an
order-placing request is lost (timeout, dropped connection, 5xx, -1006/-1007) the request is
never sent again: the account's order events are asked first, then Binance, by client id.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import anyio

from binance_spot_mcp.accounts.reading import Account
from binance_spot_mcp.approval.book import Grant
from binance_spot_mcp.catalog.endpoints import Catalog, Endpoint
from binance_spot_mcp.catalog.schema import PreparedCall
from binance_spot_mcp.config import Settings
from binance_spot_mcp.errors import BinanceSpotError, ExchangeError, OutcomeError, TransportError
from binance_spot_mcp.exchange.client import BinanceClient
from binance_spot_mcp.exchange.orders import (
    NOT_FOUND_CODES,
    UNKNOWN_OUTCOME_CODES,
    IdChoice,
    Lookup,
    lookup_for,
    resolve_client_id,
    verdict,
    with_client_id,
)
from binance_spot_mcp.guard.daily import key_identity
from binance_spot_mcp.guard.enforce import Guard
from binance_spot_mcp.journal import Journal
from binance_spot_mcp.streams.tools import StreamTools

_SUMMARY_KEYS = ("symbol", "orderId", "orderListId", "clientOrderId", "listClientOrderId", "status",
                 "listOrderStatus", "executedQty", "cummulativeQuoteQty", "cancelResult", "newOrderResult")


def outcome_summary(data: Any) -> dict[str, Any]:
    """The identifying fields of an order reply, for the journal."""
    if isinstance(data, list):
        return {"items": len(data)}
    if not isinstance(data, dict):
        return {}
    return {k: data[k] for k in _SUMMARY_KEYS if k in data and not isinstance(data[k], dict | list)}


def error_summary(exc: ExchangeError) -> dict[str, Any]:
    """An error's code and message, and what it says was placed all the same: a cancel-replace
    answered 409 carries its new order (``newOrderResult``), which the daily total must count."""
    summary: dict[str, Any] = {"code": exc.code, "msg": exc.msg}
    data = exc.data if isinstance(exc.data, dict) else {}
    for key in ("cancelResult", "newOrderResult"):
        if isinstance(data.get(key), str):
            summary[key] = data[key]
    new_order = data.get("newOrderResponse")
    if isinstance(new_order, dict):
        summary["newOrder"] = outcome_summary(new_order)
    return summary


class OrderSender:
    """Sends what the pipeline decided to send, and finds out what happened when a reply is lost."""

    def __init__(
        self,
        settings: Settings,
        catalog: Catalog,
        client: BinanceClient,
        journal: Journal,
        guard: Guard,
        stream_tools: StreamTools,
    ) -> None:
        self.settings = settings
        self.catalog = catalog
        self.client = client
        self.journal = journal
        self.guard = guard
        self.stream_tools = stream_tools

    async def send(
        self, endpoint: Endpoint, prepared: PreparedCall, account: Account, approval: Grant | None
    ) -> Any:
        """Send a state-changing request: client order id set, intent on disk first, outcome after.

        When the reply of an order-placing request is lost (timeout, dropped connection, 5xx,
        -1006/-1007) the request is never sent again: the order is looked up by its client id.
        """
        params, client_id = with_client_id(endpoint, prepared.params)
        async with self.guard.at_send(endpoint, account, params) as policy_note:  # policy check at send time
            entry = await self.journal.intent(
                tool=endpoint.tool,
                account=account.name,
                environment=account.environment,
                method=endpoint.method,
                path=endpoint.path,
                params=dict(params),
                approval=approval.journal_fields() if approval is not None else None,
                policy=policy_note,
                key=key_identity(account),
            )
        try:
            reply = await self.client.call(endpoint, params, base_url=account.base_url, account=account)
        except ExchangeError as exc:
            if client_id and (exc.status >= 500 or exc.code in UNKNOWN_OUTCOME_CODES):
                return await self._resolve_outcome(endpoint, params, account, client_id, entry, f"{exc.msg} (HTTP {exc.status})")
            await self.journal.outcome(entry, ok=False, status=exc.status, summary=error_summary(exc))
            raise
        except TransportError as exc:
            if client_id and exc.sent:
                return await self._resolve_outcome(endpoint, params, account, client_id, entry, exc.message)
            summary = {"error": exc.message, "may_have_executed": exc.sent}
            await self.journal.outcome(entry, ok=False, status=None, summary=summary)
            raise
        except BinanceSpotError as exc:  # refused before sending (rate limit, ban, policy)
            await self.journal.outcome(entry, ok=False, status=None, summary={"not_sent": exc.kind, "error": exc.message})
            raise
        await self.journal.outcome(entry, ok=True, status=reply.status, summary=outcome_summary(reply.data))
        return reply.data


    async def _resolve_outcome(
        self,
        endpoint: Endpoint,
        params: tuple[tuple[str, str], ...],
        account: Account,
        client_id: str,
        entry: str,
        cause: str,
    ) -> Any:
        """Find out, by client id, whether an order whose reply was lost exists. Never re-sends it."""
        lookup = lookup_for(endpoint, params, client_id)
        lookup_endpoint = self.catalog.get(lookup.tool)
        assert lookup_endpoint is not None
        not_found = 0
        delays = self.settings.outcome_lookup_delays_s
        for delay in delays:
            await anyio.sleep(delay)
            seen = self.stream_tools.order_seen(account, lookup.tool, lookup.arguments)
            if seen is not None:  # the account's user data stream already reported it: no look-up needed
                outcome = verdict(seen)
                self.journal.record_outcome(entry, ok=True, status=None, summary={"recovered": outcome, **outcome_summary(seen)})
                return {
                    "outcome": outcome,
                    "note": f"The reply was lost ({cause}); the request was NOT sent again. The account's order "
                    f"events (user data stream) reported it by its client id {client_id}.",
                    "result": seen,
                }
            try:
                found = await self.client.call(lookup_endpoint, lookup.arguments, base_url=account.base_url, account=account)
            except ExchangeError as exc:
                if exc.code in NOT_FOUND_CODES:
                    not_found += 1  # Binance says: no such order (yet)
                continue
            except BinanceSpotError:
                continue  # transport trouble or a local rate limit: ask again later
            outcome = verdict(found.data)
            await self.journal.outcome(entry, ok=True, status=None, summary={"recovered": outcome, **outcome_summary(found.data)})
            return {
                "outcome": outcome,
                "note": f"The reply was lost ({cause}); the request was NOT sent again. It was found by its client id {client_id}.",
                "result": found.data,
            }
        waited = sum(delays)
        if not_found == len(delays):
            await self.journal.outcome(entry, ok=False, status=None, summary={"recovered": "not placed", "cause": cause})
            raise OutcomeError(
                f"Outcome: not placed. The reply was lost ({cause}); Binance had no order with client id "
                f"{client_id} in {len(delays)} look-ups over {waited:.1f} s. It was not sent again.",
                hint=f"It is safe to place it again. To double-check first: {lookup.describe()}",
            )
        await self.journal.outcome(entry, ok=False, status=None, summary={"recovered": "unknown", "cause": cause})
        raise OutcomeError(
            f"Outcome: UNKNOWN. The reply was lost ({cause}) and Binance could not be asked reliably "
            f"within {waited:.1f} s. It was not sent again.",
            hint=f"Do not repeat the order; check with {lookup.describe()}",
        )


    async def existing_client_id(
        self, endpoint: Endpoint, prepared: PreparedCall, account: Account
    ) -> tuple[PreparedCall, IdChoice | None]:
        """Find the order a client id names, with or without the ``agent-`` prefix (``exchange.orders``)."""

        async def exists(lookup: Lookup) -> bool | None:
            lookup_endpoint = self.catalog.get(lookup.tool)
            assert lookup_endpoint is not None
            try:
                await self.client.call(lookup_endpoint, lookup.arguments, base_url=account.base_url, account=account)
            except ExchangeError as exc:
                return False if exc.code in NOT_FOUND_CODES else None
            except BinanceSpotError:
                return None
            return True

        params, choice = await resolve_client_id(endpoint, prepared.params, exists)
        return (replace(prepared, params=params), choice) if choice else (prepared, None)

