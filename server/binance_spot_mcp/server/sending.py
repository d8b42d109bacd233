"""The send path of a state-changing call, after the guard and the approval (invariant 4).

The client order id is set, the intent is on disk before anything leaves, the request is sent
once under the guard's send-time check, and the outcome is journaled. When the reply of an
order-placing request is lost (timeout, dropped connection, 5xx, -1006/-1007) the request is
never sent again: Binance is asked by client id. An order the account's order events (user data
stream) reported is still checked with Binance: its answer wins, a look-up that cannot answer leaves
the stream's word marked unconfirmed, and "no such order" against the stream's word is UNKNOWN.
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


def failure_text(exc: BinanceSpotError) -> str:
    """What went wrong with a request, in a line: Binance's message and the HTTP status, or ours."""
    return f"{exc.msg} (HTTP {exc.status})" if isinstance(exc, ExchangeError) else exc.message


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
                return await self._resolve_outcome(endpoint, params, account, client_id, entry, failure_text(exc))
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
        """Find out, by client id, whether an order whose reply was lost exists. Never re-sends it.

        Binance's answer settles it. An order the account's user data stream reported (its word can
        be wrong or forged) is checked with one look-up: Binance's answer wins; a look-up that cannot
        answer leaves the stream's word, marked unconfirmed; 'no such order' leaves it UNKNOWN."""
        lookup = lookup_for(endpoint, params, client_id)
        lookup_endpoint = self.catalog.get(lookup.tool)
        assert lookup_endpoint is not None
        lost = f"The reply was lost ({cause}); the request was NOT sent again."
        not_found = 0
        delays = self.settings.outcome_lookup_delays_s
        for delay in delays:
            await anyio.sleep(delay)
            seen = self.stream_tools.order_seen(account, lookup.tool, lookup.arguments)
            try:
                found = await self.client.call(lookup_endpoint, lookup.arguments, base_url=account.base_url, account=account)
            except BinanceSpotError as exc:  # no such order (yet), transport trouble or a local rate limit
                missing = isinstance(exc, ExchangeError) and exc.code in NOT_FOUND_CODES
                if seen is not None:
                    return await self._settle_from_stream(seen, exc, missing, entry, cause, lost, client_id, lookup)
                not_found += missing
                continue  # ask again later
            return await self._settle(found.data, seen, entry, lost, client_id)
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

    async def _settle(self, found: Any, seen: dict[str, Any] | None, entry: str, lost: str, client_id: str) -> Any:
        """Binance found the order: its answer is the outcome, whatever the stream said."""
        outcome = verdict(found)
        if seen is None:
            sources: dict[str, Any] = {}
            note = f"{lost} It was found by its client id {client_id}."
        else:
            sources = {"source": "user_data_stream", "confirmed_by": "get_order"}
            note = (f"{lost} The account's order events (user data stream) reported it by its client id {client_id}, "
                    "and Binance's get_order confirmed it; Binance's answer is shown.")
            if verdict(seen) != outcome:
                sources["stream_said"] = verdict(seen)
                note += f" The stream said '{verdict(seen)}', which Binance contradicts: it is not believed."
        await self.journal.outcome(entry, ok=True, status=None,
                                   summary={"recovered": outcome, **outcome_summary(found), **sources})
        return {"outcome": outcome, "note": note, "result": found, **sources}

    async def _settle_from_stream(
        self, seen: dict[str, Any], exc: BinanceSpotError, missing: bool, entry: str, cause: str, lost: str,
        client_id: str, lookup: Lookup,
    ) -> Any:
        """The stream reported the order and the one look-up did not find it: unconfirmed, or UNKNOWN."""
        said = verdict(seen)
        if missing:  # the stream and Binance disagree: never "not placed", never the stream's word
            await self.journal.outcome(entry, ok=False, status=None, summary={
                "recovered": "unknown", "cause": cause, "source": "user_data_stream", "get_order": "not found"})
            raise OutcomeError(
                f"Outcome: UNKNOWN. The reply was lost ({cause}). The account's order events (user data stream) "
                f"reported client id {client_id} as '{said}', but Binance's get_order found no such order; the "
                "stream may be wrong or forged. It was not sent again.",
                hint=f"Do not repeat the order; check with {lookup.describe()}",
            )
        sources = {"source": "user_data_stream", "confirmed_by": None}
        await self.journal.outcome(entry, ok=True, status=None, summary={
            "recovered": said, **outcome_summary(seen), **sources, "lookup_error": failure_text(exc)})
        return {
            "outcome": said,
            "note": f"{lost} UNCONFIRMED: the account's order events (user data stream) reported it by its client id "
            f"{client_id}, but Binance's get_order could not answer ({failure_text(exc)}). Check with "
            f"{lookup.describe()} before relying on it.",
            "result": seen,
            **sources,
        }


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

