"""Enforcing the operator's guard rails on every state-changing request (invariant 7).

The server calls the guard twice per state-changing request:

* ``before_approval``: before a human is asked to approve (no point approving what will be
  refused). A refusal is journaled and returned as an ``isError`` result; an account in dry run
  gets its answer here -- the request, its value and the verdict -- and nothing is sent.
* ``at_send``: immediately before signing, under a per-account lock held until the intent line
  is in the journal: the kill switch, the symbol lists, the order cap and the rolling 24-hour
  total read from the audit journal. The account's rules are read again from TOOLS.md first. Because the total comes from the journal, it survives
  restarts and counts every server process writing the same journal; the lock (a thread-free
  ``anyio.Lock`` inside one process plus an ``flock`` across processes) makes check-and-record
  atomic, so two processes cannot both spend the last of a budget.

Checks, in order: kill switch (cancels pass), symbol lists (cancels pass), then -- only when the
account has a cap -- the order's value (``pricing``) against each order cap, and for orders that
add to the day (every order-placing request; amends only shrink an order already counted) the
24-hour total plus this order against each daily cap. The total and the lock belong to the
Binance account (environment and API key, ``daily.key_identity``), so entries sharing a key share
both. An order counts unless it is known not placed (``daily.counts``): whether or not it fills,
when its outcome stayed unknown, and when Binance placed it but answered with an error.
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio
from mcp.types import CallToolResult

from binance_spot_mcp.accounts.reading import Account
from binance_spot_mcp.accounts.store import AccountStore, same_key_entries
from binance_spot_mcp.catalog.endpoints import Catalog, Endpoint
from binance_spot_mcp.config import MAINNET, Settings
from binance_spot_mcp.errors import BinanceSpotError, PolicyRefused, Unpriceable
from binance_spot_mcp.exchange.client import BinanceClient
from binance_spot_mcp.exchange.filter_cache import ExchangeInfoCache
from binance_spot_mcp.exchange.filters import symbol_entry
from binance_spot_mcp.exchange.pricing import AMEND_TOOL, Market, PairBook, order_value
from binance_spot_mcp.guard import killswitch
from binance_spot_mcp.guard.daily import (
    DAY,
    Owner,
    adds_to_daily_total,
    counted_intents,
    key_identity,
    recorded_values,
)
from binance_spot_mcp.journal import Journal, RecentEntries
from binance_spot_mcp.policy import Policy, plain, requires_approval
from binance_spot_mcp.redact import Redactor
from binance_spot_mcp.results import json_result

logger = logging.getLogger(__name__)

LOCK_FILE_PREFIX = ".policy-"
CAP_HINT = "Tell the user which limit stopped it; only the operator can change the limits (TOOLS.md or server flags)."
SYMBOL_HINT = "Trade only the allowed symbols; only the operator can change the lists."


@dataclass
class Verdict:
    """What the checks found for one request."""

    value: dict[str, Decimal] = field(default_factory=dict)  # by asset: the quote asset and each cap's
    spent: dict[str, Decimal] = field(default_factory=dict)  # 24-hour totals before this order, by cap asset
    counts_today: bool = False

    def note(self) -> dict[str, Any]:
        """What the journal's intent line records: the value, so later totals need no prices."""
        return {"value": {asset: plain(v) for asset, v in self.value.items()}} if self.value else {}


class Guard:
    """The guard rails of one server: shared by all calls and accounts."""

    def __init__(
        self,
        settings: Settings,
        accounts: AccountStore,
        journal: Journal,
        client: BinanceClient,
        catalog: Catalog,
        filter_cache: ExchangeInfoCache,
        redactor: Redactor,
    ) -> None:
        self._settings = settings
        self._accounts = accounts
        self._journal = journal
        self._client = client
        self._catalog = catalog
        self._filter_cache = filter_cache
        self._redactor = redactor
        self._pairs = PairBook()
        self._locks: dict[str, anyio.Lock] = {}
        self._recent = RecentEntries(journal)  # only what was appended is read again

    # ------------------------------------------------------------------ the two calls

    async def before_approval(
        self, endpoint: Endpoint, account: Account | None, params: Sequence[tuple[str, str]]
    ) -> CallToolResult | None:
        """Refuse (raises ``PolicyRefused``, journaled) or answer a dry run; None: go on."""
        if account is None or not endpoint.changes_state:
            return None
        if account.policy.dry_run:
            return await self._dry_run(endpoint, account, params)
        try:
            await self._evaluate(endpoint, account, params)
        except PolicyRefused as exc:
            self._journal_refusal(endpoint, account, params, exc, stage="before approval")
            raise
        return None

    @asynccontextmanager
    async def at_send(
        self, endpoint: Endpoint, account: Account, params: Sequence[tuple[str, str]]
    ) -> AsyncIterator[dict[str, Any]]:
        """Check again under the account's lock; the body writes the intent (with the yielded note).

        The account's rules are read afresh: the operator may have tightened them while a human
        was looking at the approval question."""
        async with self._account_lock(account):
            try:
                account = self._current(account)
                if account.policy.dry_run:
                    raise PolicyRefused("dry run", "this account is in dry run, so the request was not sent.",
                                        hint=dry_run_hint(account.policy))
                verdict = await self._evaluate(endpoint, account, params)
            except PolicyRefused as exc:
                self._journal_refusal(endpoint, account, params, exc, stage="at send")
                raise
            yield verdict.note()

    def _current(self, account: Account) -> Account:
        """The account as TOOLS.md says now, with the same credentials and destination."""
        now = self._accounts.current().accounts.get(account.name)
        if now is None or (now.api_key, now.base_url, now.environment) != (account.api_key, account.base_url, account.environment):
            raise PolicyRefused("account", f"account '{account.name}' changed or was removed since this call began.",
                                hint="Call the tool again.")
        return now

    # ------------------------------------------------------------------ the checks

    async def _evaluate(self, endpoint: Endpoint, account: Account, params: Sequence[tuple[str, str]]) -> Verdict:
        if account.field_problems:  # a misspelt line may be a rule that is missing: refuse every change
            raise PolicyRefused(
                "unknown field",
                f"account '{account.name}' has a line in TOOLS.md the server does not understand, so none of its "
                f"changes is sent: {'; '.join(account.field_problems)}.",
                hint="Tell the user which line to fix or remove (reads still work); only the operator edits TOOLS.md.",
            )
        values = dict(params)
        switch = killswitch.state(self._settings)
        cancel = killswitch.is_cancel(endpoint)
        if not switch.trading and not cancel:
            raise PolicyRefused("kill switch", f"trading is off ({switch.reason}).", hint=switch.hint)
        policy = account.policy
        if cancel:
            return Verdict()
        symbol = values.get("symbol", "")
        if policy.restricts_symbols:
            problem = policy.symbol_problem(symbol) if symbol else "the request names no symbol"
            if problem:
                raise PolicyRefused("symbol list", f"{problem}.", hint=SYMBOL_HINT, details={"symbol": symbol})
        counts_today = adds_to_daily_total(endpoint)
        if not policy.order_caps and not (counts_today and policy.daily_caps):
            return Verdict()  # nothing to compare a value with: none is needed (nor refused)
        market = self._market(account)
        verdict = Verdict(counts_today=counts_today)
        existing = await self._amended_order(account, values) if endpoint.tool == AMEND_TOOL else None
        raw = await order_value(endpoint.tool, values, market, existing=existing)
        _, quote_asset = await market.assets(symbol)
        verdict.value[quote_asset] = raw
        for cap in (*policy.order_caps, *policy.daily_caps):
            if cap.amount.asset not in verdict.value:
                verdict.value[cap.amount.asset] = await market.convert(raw, quote_asset, cap.amount.asset)
        if verdict.counts_today and policy.daily_caps:
            verdict.spent = await self._spent(account, {c.amount.asset for c in policy.daily_caps}, market)
        left_today = {
            c.amount.asset: max(c.amount.value - verdict.spent[c.amount.asset], Decimal(0))
            for c in policy.daily_caps if c.amount.asset in verdict.spent
        }
        remaining = {"remaining_today": {a: _fmt(v) for a, v in left_today.items()}} if left_today else {}
        for cap in policy.order_caps:
            worth = verdict.value[cap.amount.asset]
            if worth > cap.amount.value:
                today = "; ".join(f"{_fmt(v)} {a} of the daily cap remain" for a, v in left_today.items())
                raise PolicyRefused(
                    "max order value",
                    f"this request is worth {_fmt(worth)} {cap.amount.asset}; the cap per order ({cap.set_by}) is "
                    f"{cap.amount}{f' ({today})' if today else ''}.",
                    hint=CAP_HINT,
                    details={"value": _fmt(worth), "cap": str(cap.amount), **remaining},
                )
        for cap in policy.daily_caps if verdict.counts_today else ():
            asset = cap.amount.asset
            worth, spent = verdict.value[asset], verdict.spent[asset]
            if spent + worth > cap.amount.value:
                left = left_today[asset]
                raise PolicyRefused(
                    "max daily value",
                    f"this request is worth {_fmt(worth)} {asset}; orders worth {_fmt(spent)} {asset} were placed "
                    f"in the last 24 hours and the daily cap ({cap.set_by}) is {cap.amount}, so {_fmt(left)} "
                    f"{asset} remain.",
                    hint=CAP_HINT,
                    details={"value": _fmt(worth), "cap": str(cap.amount), "spent_24h": _fmt(spent),
                             "remaining": _fmt(left)},
                )
        return verdict

    def _owner(self, account: Account) -> Owner:
        """The Binance account ``account`` trades for: its key's identity and the entries sharing it."""
        return Owner.of(account, same_key_entries(account, self._accounts.current().accounts))

    async def _spent(self, account: Account, assets: set[str], market: Market) -> dict[str, Decimal]:
        """The value of orders placed with this account's key in the last 24 hours, per asset (journal)."""
        entries = self._recent.since(datetime.now(UTC) - DAY)
        totals = {asset: Decimal(0) for asset in assets}
        for intent in counted_intents(entries, self._catalog, self._owner(account)):
            recorded = recorded_values(intent)
            for asset in assets:
                totals[asset] += await self._entry_value(intent, recorded, asset, market)
        return totals

    async def _entry_value(self, intent: Mapping[str, Any], recorded: dict[str, Decimal], asset: str, market: Market) -> Decimal:
        if asset in recorded:
            return recorded[asset]
        try:
            if recorded:  # valued in another asset (the cap's asset changed): convert it
                source, value = next(iter(recorded.items()))
                return await market.convert(value, source, asset)
            params = {str(k): str(v) for k, v in (intent.get("params") or {}).items()}
            raw = await order_value(str(intent.get("tool")), params, market)
            _, quote_asset = await market.assets(params.get("symbol", ""))
            return await market.convert(raw, quote_asset, asset)
        except Unpriceable as exc:
            raise Unpriceable(
                f"an earlier order in the journal ({intent.get('ts')}, {intent.get('tool')}) cannot be valued in "
                f"{asset}: {exc.reason}"
            ) from None

    # ------------------------------------------------------------------ helpers

    def _market(self, account: Account) -> Market:
        async def read(tool: str, args: list[tuple[str, str]]) -> Any:
            endpoint = self._catalog.get(tool)
            assert endpoint is not None
            return (await self._client.call(endpoint, args, base_url=account.base_url, account=None)).data

        async def info(symbol: str) -> Mapping[str, Any] | None:
            async def fetch() -> Any:
                return await read("get_exchange_info", [("symbol", symbol)])

            return symbol_entry(await self._filter_cache.get(account.base_url, symbol, fetch), symbol)

        return Market(read, info, self._pairs, account.base_url)

    async def _amended_order(self, account: Account, values: Mapping[str, str]) -> Mapping[str, Any] | None:
        endpoint = self._catalog.get("get_order")
        assert endpoint is not None
        args = [("symbol", values.get("symbol", ""))]
        args += [(k, values[k]) for k in ("orderId", "origClientOrderId") if values.get(k)]
        try:
            found = (await self._client.call(endpoint, args, base_url=account.base_url, account=account)).data
        except BinanceSpotError as exc:
            raise Unpriceable(f"the order to amend could not be read ({exc.message})") from None
        return found if isinstance(found, Mapping) else None

    @asynccontextmanager
    async def _account_lock(self, account: Account) -> AsyncIterator[None]:
        """One lock per Binance account (key identity): entries sharing a key share it."""
        identity = key_identity(account)
        lock = self._locks.setdefault(identity, anyio.Lock())
        async with lock:
            path = lock_path(self._journal, account)
            try:
                path.parent.mkdir(parents=True, mode=0o700, exist_ok=True)
                fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
            except OSError as exc:
                raise PolicyRefused("lock", f"the per-account lock {path} cannot be opened ({exc.strerror}).") from None
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the usual case: nobody else holds it
                except BlockingIOError:
                    await anyio.to_thread.run_sync(fcntl.flock, fd, fcntl.LOCK_EX)  # wait without blocking the loop
                yield
            finally:
                os.close(fd)  # releases the flock

    def _journal_refusal(
        self, endpoint: Endpoint, account: Account, params: Sequence[tuple[str, str]], exc: PolicyRefused, *, stage: str
    ) -> None:
        note = {"refused": exc.rule, "stage": stage, **{k: v for k, v in exc.details.items() if isinstance(v, str)}}
        entry = self._record_intent(endpoint, account, params, note)
        self._journal.record_outcome(entry, ok=False, status=None, summary={"not_sent": "policy_refused", "rule": exc.rule})

    def _record_intent(
        self, endpoint: Endpoint, account: Account, params: Sequence[tuple[str, str]], note: Mapping[str, Any]
    ) -> str:
        return self._journal.record_intent(
            tool=endpoint.tool,
            account=account.name,
            environment=account.environment,
            key=key_identity(account),
            method=endpoint.method,
            path=endpoint.path,
            params=dict(params),
            policy=note,
        )

    async def _dry_run(self, endpoint: Endpoint, account: Account, params: Sequence[tuple[str, str]]) -> CallToolResult:
        payload: dict[str, Any] = {
            "dry_run": True,
            "sent": False,
            "account": account.name,
            "environment": account.environment,
            "request": {"tool": endpoint.tool, "method": endpoint.method, "path": endpoint.path, "params": dict(params)},
        }
        try:
            verdict = await self._evaluate(endpoint, account, params)
        except PolicyRefused as exc:
            payload["verdict"] = f"would be refused by the {exc.rule} rule: {exc.reason}"
            payload["rule"] = exc.rule
        else:
            payload["verdict"] = "would pass the guard rails" + (" (then need human approval)" if _asks(account) else "")
            if verdict.value:
                payload["value"] = {asset: _fmt(v) for asset, v in verdict.value.items()}
            if verdict.spent:
                payload["spent_24h"] = {asset: _fmt(v) for asset, v in verdict.spent.items()}
        payload["policy"] = account.policy.describe()
        payload["note"] = f"This account is in dry run: nothing was sent to Binance. {dry_run_hint(account.policy)}"
        entry = self._record_intent(endpoint, account, params, {"dry_run": True, "verdict": payload["verdict"]})
        self._journal.record_outcome(entry, ok=True, status=None, summary={"dry_run": True, "sent": False})
        return json_result(payload, error=False, redactor=self._redactor)

    # ------------------------------------------------------------------ status

    async def status(self, accounts: Sequence[Account], approval: Callable[[Account], str]) -> list[dict[str, Any]]:
        """Each account's environment, host, approval channel, rules and what remains today."""
        rows = []
        for account in accounts:
            row: dict[str, Any] = {
                "account": account.name,
                "environment": account.environment,
                "host": urlsplit(account.base_url).netloc,
                "approval": approval(account),
                "policy": account.policy.describe(),
            }
            if account.field_problems:  # changes refused until the line is fixed (see _evaluate)
                row["problems"] = [f"every change is refused: {p}" for p in account.field_problems]
            if account.policy.daily_caps:
                row["today"] = await self._today(account, account.policy)
            rows.append(row)
        return rows

    async def _today(self, account: Account, policy: Policy) -> dict[str, Any] | str:
        assets = {c.amount.asset for c in policy.daily_caps}
        try:
            spent = await self._spent(account, assets, self._market(account))
        except BinanceSpotError as exc:
            return f"unknown: {exc.message}"
        return {
            str(cap.amount): {
                "spent_24h": _fmt(spent[cap.amount.asset]),
                "remaining": _fmt(max(cap.amount.value - spent[cap.amount.asset], Decimal(0))),
            }
            for cap in policy.daily_caps
        }


def lock_path(journal: Journal, account: Account) -> Path:
    """The file whose ``flock`` serialises check-and-record for one Binance account."""
    return journal.path.parent / f"{LOCK_FILE_PREFIX}{key_identity(account)}.lock"


def dry_run_hint(policy: Policy) -> str:
    """Who turned dry run on, and so who can turn it off."""
    where = []
    for who in policy.dry_run_by:
        if who == "server":
            where.append("the server was started in dry run (--dry-run or BINANCE_SPOT_MCP_DRY_RUN): only the "
                         "operator can restart it without")
        elif who == "account":
            where.append("this account has 'Dry Run: true' in TOOLS.md: only the operator can change it")
        else:
            where.append(f"{who} has 'Dry Run: true' in TOOLS.md and its rules bind every entry for that key")
    return ("Dry run: " + "; ".join(where) + ".") if where else "Only the operator can turn dry run off."


def _asks(account: Account) -> bool:
    return account.environment == MAINNET or requires_approval(account)


def _fmt(value: Decimal) -> str:
    """Eight decimal places at most, no exponent, no trailing zeros."""
    return plain(value.quantize(Decimal("0.00000001")) if value.as_tuple().exponent < -8 else value)
