"""The rolling 24-hour total behind Max Daily Value: which journaled requests count, and whose.

Totals belong to the Binance account, not to a TOOLS.md entry's name: every intent line carries
the identity of the API key that signed it (``key_identity``: a one-way digest of the
environment and the key), and the total of an account is the sum over the lines of that identity.
So entries that share one key share one total, and a testnet ``main`` in one TOOLS.md never
spends the budget of a mainnet ``main`` in another that writes the same journal. Lines written
before the identity was journaled count for the entries of the same environment sharing the key.

An order counts unless we *know* it was not placed: in flight, unknown after the look-ups, and
placed-but-answered-with-an-error (a cancel-replace whose cancel failed while its new order was
placed: HTTP 409, ``newOrderResult: SUCCESS``) all count. Not counted: dry runs, refusals, what
was never sent, what a look-up found not placed, and what Binance rejected (a 4xx with no new
order placed). Order lists and SOR orders are placed whole or not at all (rest-api.md), so they
have no partial success to read.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from binance_spot_mcp.accounts.reading import Account, fingerprint
from binance_spot_mcp.catalog.endpoints import Catalog, Endpoint
from binance_spot_mcp.exchange.orders import client_id_param
from binance_spot_mcp.journal import INTENT, OUTCOME, Journal

DAY = timedelta(hours=24)
PARTIAL_SUCCESS_STATUS = 409  # cancel-replace: one of its two halves failed (rest-api.md)
NOT_PLACED_RESULTS = frozenset({"FAILURE", "NOT_ATTEMPTED"})


def key_identity(account: Account) -> str:
    """Who an order's value counts against: the environment and the API key, as a digest."""
    return fingerprint("daily total", account.environment, account.api_key)


def adds_to_daily_total(endpoint: Endpoint) -> bool:
    """Order-placing requests (they carry a new client order id); not amends or cancels."""
    return client_id_param(endpoint) is not None


def counts(intent: Mapping[str, Any], outcome: Mapping[str, Any] | None) -> bool:
    """Did this journaled request (maybe) place an order? Counts unless known not placed."""
    policy = intent.get("policy") or {}
    if policy.get("dry_run") or policy.get("refused"):
        return False
    if outcome is None or outcome.get("ok"):
        return True
    summary = outcome.get("summary") or {}
    status = outcome.get("status")
    if "not_sent" in summary or summary.get("may_have_executed") is False or summary.get("recovered") == "not placed":
        return False
    if not (isinstance(status, int) and 400 <= status < 500):
        return True  # no answer we can read: it may have been placed
    new_order = summary.get("newOrderResult")
    if status == PARTIAL_SUCCESS_STATUS or new_order is not None:
        return new_order not in NOT_PLACED_RESULTS  # placed, or a partial success we cannot read
    return False  # Binance rejected it


@dataclass(frozen=True)
class Owner:
    """The Binance account a total belongs to: its key identity, environment and the TOOLS.md
    entries that use the key (for lines journaled before the identity was)."""

    key: str | None
    environment: str | None
    names: tuple[str, ...]

    @classmethod
    def of(cls, account: Account, names: Sequence[str]) -> Owner:
        return cls(key_identity(account), account.environment, tuple(names) or (account.name,))

    def owns(self, intent: Mapping[str, Any]) -> bool:
        if self.key is not None and "key" in intent:
            return intent.get("key") == self.key
        same_environment = self.environment is None or intent.get("environment") == self.environment
        return same_environment and intent.get("account") in self.names


def counted_intents(entries: Sequence[Mapping[str, Any]], catalog: Catalog, owner: Owner) -> Iterator[Mapping[str, Any]]:
    """The intent lines of ``owner`` among ``entries`` that add to its daily total."""
    outcomes = {e.get("id"): e for e in entries if e.get("phase") == OUTCOME}
    for intent in entries:
        if intent.get("phase") != INTENT or not owner.owns(intent):
            continue
        endpoint = catalog.get(str(intent.get("tool")))
        if endpoint is None or not adds_to_daily_total(endpoint) or not counts(intent, outcomes.get(intent.get("id"))):
            continue
        yield intent


def recorded_values(intent: Mapping[str, Any]) -> dict[str, Decimal]:
    """The value the guard recorded on an intent line, by asset (empty when none was)."""
    return {str(k): Decimal(str(v)) for k, v in ((intent.get("policy") or {}).get("value") or {}).items()}


def recorded_spent(journal: Journal, catalog: Catalog, account: str | Owner, asset: str) -> tuple[Decimal, int]:
    """Offline: the 24-hour total of ``account`` (an entry name, or an ``Owner``) in ``asset`` from
    values recorded in the journal, and how many counted orders had no value recorded in that
    asset (``doctor``)."""
    owner = account if isinstance(account, Owner) else Owner(None, None, (account,))
    total, unvalued = Decimal(0), 0
    for intent in counted_intents(journal.since(datetime.now(UTC) - DAY), catalog, owner):
        value = recorded_values(intent).get(asset)
        if value is None:
            unvalued += 1
        else:
            total += value
    return total, unvalued
