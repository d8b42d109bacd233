"""The accounts in force: ``AccountStore`` reads TOOLS.md (safely, off the event loop) and the
environment's credentials, re-reads the file when it changes so new accounts work without a
restart, and resolves the account a call names (else ``main``, else the only one).

``market_data_source`` picks where public market data comes from by the same rule. The file
format and its parsing are ``reading``'s.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import anyio.to_thread

from binance_spot_mcp.accounts.reading import (
    DEFAULT_ACCOUNT,
    MAX_TOOLS_FILE_BYTES,
    Account,
    AccountSet,
    BrokenAccount,
    fingerprint,
    paper_account,
    parse_accounts,
)
from binance_spot_mcp.config import (
    MAINNET,
    PAPER,
    Settings,
)
from binance_spot_mcp.errors import AccountError
from binance_spot_mcp.exchange.signing import HmacSigner
from binance_spot_mcp.policy import Rules, effective_policy
from binance_spot_mcp.redact import Redactor, mask_secret
from binance_spot_mcp.safe_files import (
    DIRECTORY,
    MISSING,
    NOT_OWNED,
    READABLE,
    WRITABLE,
    UnsafeFile,
    read_file,
)

logger = logging.getLogger(__name__)
BUILTIN_PAPER = "paper"
BUILTIN_SOURCE = "built in (no TOOLS.md)"
BUILTIN_DESCRIPTION = "paper trading on live prices: no key, no real money"


class AccountStore:
    """The accounts in force. Re-reads TOOLS.md when its size or mtime changes."""

    def __init__(self, settings: Settings, redactor: Redactor) -> None:
        self._settings = settings
        self._redactor = redactor
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._current: AccountSet | None = None
        for credential in settings.env_credentials:
            redactor.add_api_key(credential.api_key)
            redactor.add_secret(credential.secret)

    @property
    def path(self) -> Path:
        return self._settings.tools_file

    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def base_urls(self) -> Mapping[str, str]:
        return self._settings.base_urls

    def _file_stamp(self) -> tuple[int, ...] | None:
        try:
            info = os.stat(self.path)
        except OSError:
            return None
        # ctime and mode too: a chmod 600 makes a refused file usable without a restart
        return (info.st_mtime_ns, info.st_ctime_ns, info.st_size, info.st_mode, info.st_ino)

    def current(self) -> AccountSet:
        """The accounts as of now (re-reading the file if it changed)."""
        stamp = self._file_stamp()
        with self._lock:
            if self._current is None or stamp != self._stamp:
                self._current = self._load(stamp)
                self._stamp = stamp
            return self._current

    async def refresh(self) -> AccountSet:
        """``current()`` in a worker thread: reading TOOLS.md and key files never blocks the event loop."""
        return await anyio.to_thread.run_sync(self.current)

    def _load(self, stamp: tuple[int, ...] | None) -> AccountSet:
        where = self.path.name
        result = AccountSet()
        allow_readable = self._settings.insecure_permissions
        no_file = False
        try:
            data = read_file(self.path, limit=MAX_TOOLS_FILE_BYTES, what="accounts file", allow_readable=allow_readable)
        except UnsafeFile as exc:
            no_file = exc.reason == MISSING  # named or not: until it exists, paper is there to trade on
            if exc.reason != MISSING or self._settings.tools_file_explicit:
                problem = f"{exc.message}; no account from it is used" if exc.reason != MISSING else exc.message
                if exc.hint:
                    problem += f" (fix: {exc.hint})"
                result.problems.append(problem)
                if exc.reason != MISSING:  # a missing file is no refusal: list_accounts notes it
                    result.file_problem, result.file_fix = exc.message, exc.hint or None
                if exc.reason in (READABLE, WRITABLE, NOT_OWNED, DIRECTORY):
                    result.mode_problem = problem
        else:
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                result.problems.append(f"accounts file {self.path} is not UTF-8 text; not read")
                result.file_problem = f"accounts file {self.path} is not UTF-8 text; refused"
                result.file_fix = "save it as UTF-8 (a plain-text editor can convert it)"
            else:
                result = parse_accounts(
                    text,
                    where=where,
                    base_dir=self.path.parent,
                    base_urls=self._settings.base_urls,
                    redactor=self._redactor,
                    allow_readable=allow_readable,
                )
        for credential in self._settings.env_credentials:
            if credential.name in result.accounts:
                continue
            result.accounts[credential.name] = Account(
                name=credential.name,
                environment=credential.environment,
                api_key=credential.api_key,
                signer=HmacSigner(credential.secret),
                base_url=self._settings.base_urls[credential.environment],
                description=f"from environment variables {credential.source}",
                source=credential.source,
                secret_display=mask_secret(credential.secret),
                signer_fingerprint=fingerprint(HmacSigner.kind, credential.secret),
            )
        if no_file and BUILTIN_PAPER not in result.accounts:
            # Nothing configured: a paper account is there, so the first run can trade with no key.
            result.accounts[BUILTIN_PAPER] = paper_account(
                BUILTIN_PAPER, self._settings.base_urls[PAPER], description=BUILTIN_DESCRIPTION, source=BUILTIN_SOURCE
            )
        server_rules = self._settings.policy_rules
        result.accounts = {
            name: replace(account, policy=effective_policy(server_rules, account.rules, _sharing(account, result.accounts)),
                          field_problems=_shared_field_problems(account, result.accounts, result.broken))
            for name, account in result.accounts.items()
        }
        for problem in result.problems:
            logger.warning("%s", problem)
        return result

    def resolve(self, name: str | None) -> Account:
        """The account to use: the one named, else ``main``, else the only one."""
        current = self.current()
        # A refused TOOLS.md decides what every name means (its 'main' would shadow the
        # environment's), so nothing resolves until it is fixed; the error says why and how.
        self._check_file_read(current)
        if name is not None:
            if name in current.accounts:
                return current.accounts[name]
            if name in current.broken:
                raise AccountError(
                    f"account '{name}' cannot be used: {current.broken[name].problem}",
                    hint=f"Fix the account in {self.path} (it is re-read automatically).",
                )
            raise AccountError(
                f"no account named '{name}'. {self._names_text(current)}",
                hint="Call again with one of the listed account names.",
            )
        if DEFAULT_ACCOUNT in current.accounts:
            return current.accounts[DEFAULT_ACCOUNT]
        if DEFAULT_ACCOUNT in current.broken:
            raise AccountError(
                f"the default account 'main' cannot be used: {current.broken[DEFAULT_ACCOUNT].problem}",
                hint=f"Fix it in {self.path}, or name another account.",
            )
        only = _only_account(current.accounts)
        if only is not None:
            return only
        if not current.accounts:
            raise AccountError(
                "no account is configured for signed endpoints",
                hint=(
                    f"Add a '## Binance Accounts' section to {self.path} (see TOOLS.md.example) or set "
                    "BINANCE_TESTNET_API_KEY and BINANCE_TESTNET_SECRET_KEY."
                ),
            )
        raise AccountError(
            f"several accounts and none is named 'main'. {self._names_text(current)}",
            hint="Ask the user which account to use, then call again with 'account'.",
            choices=tuple(current.accounts),
        )

    def _check_file_read(self, current: AccountSet) -> None:
        """A TOOLS.md that was refused is named with the reason and the fix, never taken for
        "no such account" (its accounts exist; they cannot be read until the file is fixed)."""
        if current.file_problem is None:
            return
        fix = f"The user can fix it: {current.file_fix}. " if current.file_fix else ""
        raise AccountError(
            f"the accounts in {self.path} cannot be used: {current.file_problem}",
            hint=f"{fix}The file is re-read automatically; no restart is needed.",
        )

    @staticmethod
    def _names_text(current: AccountSet) -> str:
        if not current.accounts:
            return "No usable account is configured."
        listed = ", ".join(f"{a.name} ({a.environment})" for a in current.accounts.values())
        return f"Accounts: {listed}."


def _only_account(accounts: Mapping[str, Account]) -> Account | None:
    """The account to default to when there is no ``main``: the only one, or the only one besides
    the built-in paper account (keys from the environment come first); None when it is not clear."""
    if len(accounts) == 1:
        return next(iter(accounts.values()))
    configured = [a for a in accounts.values() if a.source != BUILTIN_SOURCE]
    return configured[0] if len(configured) == 1 else None


def _others_with_key(account: Account, accounts: Mapping[str, Account]) -> list[Account]:
    """The other entries that use ``account``'s API key (the same Binance account)."""
    return [o for o in accounts.values() if o.api_key == account.api_key and o.name != account.name]


def _sharing(account: Account, accounts: Mapping[str, Account]) -> list[tuple[str, Rules]]:
    """The rules of the other entries that use ``account``'s API key: the rules follow the
    Binance account (the key), not the entry's name, so every entry for one key gets them all."""
    return [(o.name, o.rules) for o in _others_with_key(account, accounts)]


def _shared_field_problems(
    account: Account, accounts: Mapping[str, Account], broken: Mapping[str, BrokenAccount]
) -> tuple[str, ...]:
    """The unknown-field problems of every entry using ``account``'s API key (its own first): a
    misspelt line may be a missing rule, and the rules follow the key, so all those entries refuse.
    So do they while an entry for the key cannot be read at all: its rules are unknown."""
    same_key = [account, *_others_with_key(account, accounts)]
    unreadable = tuple(
        f"account '{b.name}' uses the same API key and cannot be read, so its rules are unknown (fix or remove it)"
        for b in broken.values() if b.api_key and b.api_key == account.api_key
    )
    return tuple(p for entry in same_key for p in entry.field_problems) + unreadable


def same_key_entries(account: Account, accounts: Mapping[str, Account]) -> tuple[str, ...]:
    """The names of every entry (``account``'s included) that uses ``account``'s API key."""
    return tuple(sorted(o.name for o in accounts.values() if o.api_key == account.api_key) or (account.name,))


@dataclass(frozen=True)
class MarketDataSource:
    environment: str
    base_url: str
    account: str | None = None


def market_data_source(
    store: AccountStore, *, account: str | None, environment: str | None
) -> MarketDataSource:
    """Where public market data comes from, by the rule signed tools follow: the named account's
    environment (or the named environment), else ``main``'s, else the only configured account's,
    else mainnet. So an order priced from this data is priced on its own exchange. No key is sent."""
    if account is not None:
        chosen = store.resolve(account)
        return MarketDataSource(chosen.environment, chosen.base_url, chosen.name)
    base_urls = store.base_urls
    if environment is not None:
        return MarketDataSource(environment, base_urls[environment])
    accounts = store.current().accounts
    if DEFAULT_ACCOUNT in accounts:
        main = accounts[DEFAULT_ACCOUNT]
        return MarketDataSource(main.environment, main.base_url, main.name)
    only = _only_account(accounts)
    if only is not None:
        return MarketDataSource(only.environment, only.base_url, only.name)
    return MarketDataSource(MAINNET, base_urls[MAINNET])
