"""``binance-spot-mcp doctor [ACCOUNT]``: check the set-up and say what is wrong and how to fix it.

The checks, in the order they are printed::

    setup          SKILL.md loads (version, endpoint count); base URL overrides; journal writable
    accounts file  TOOLS.md: where it is, readable UTF-8, its accounts section, owner and mode,
                   parse problems (with line numbers)
    host URL       once per base URL: GET /api/v3/ping, then GET /api/v3/time (clock offset)
    account NAME   masked identity, key file mode, a signed read (GET /api/v3/account)

Each check ends in one verdict: ``OK``, ``WARN`` (works, but should be fixed), ``FAIL`` (does not
work), ``SKIP`` (not checked, e.g. the host was not reached) or ``INFO``. The command exits 1 when
any check FAILs, else 0.

Network checks reuse ``BinanceClient`` with a short timeout and no read retries, so an
unreachable host costs at most one timeout. Output names accounts, paths and masked keys only;
the CLI runs every line through the ``Redactor`` as well (invariant 1). Balances are never shown.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from binance_spot_mcp.accounts.reading import Account, AccountSet, is_section_heading
from binance_spot_mcp.accounts.store import AccountStore, same_key_entries
from binance_spot_mcp.catalog.endpoints import Catalog, load_catalog
from binance_spot_mcp.catalog.toolsets import CHARS_PER_TOKEN, Selection, list_size
from binance_spot_mcp.cli.doctor_network import network_checks
from binance_spot_mcp.cli.doctor_report import FAIL, INFO, OK, WARN, Report, plural
from binance_spot_mcp.config import BASE_URL_ENV, MAINNET, OFFICIAL_BASE_URLS, Settings, check_http_token
from binance_spot_mcp.errors import (
    BinanceSpotError,
    ConfigError,
    UnknownAccount,
)
from binance_spot_mcp.guard import killswitch
from binance_spot_mcp.guard.daily import Owner, recorded_spent
from binance_spot_mcp.guard.safety import describe_channel
from binance_spot_mcp.journal import Journal
from binance_spot_mcp.policy import plain
from binance_spot_mcp.redact import Redactor
from binance_spot_mcp.safe_files import current_uid
from binance_spot_mcp.server.tool_list import offered_tools


def check_file_mode(report: Report, section: str, name: str, path: Path, *, allow_readable: bool = False) -> None:
    """Owner and mode of a file holding secrets, by the rules ``safe_files`` enforces: a file
    other users can change, or another user's file, is refused (FAIL); one they can only read is
    refused too (FAIL) unless ``--insecure-permissions`` accepts it (WARN)."""
    try:
        info = path.lstat()
    except OSError as exc:
        report.add(section, name, FAIL, f"{path} cannot be examined ({exc.strerror})")
        return
    mode = stat.S_IMODE(info.st_mode)
    problems = []
    refused = False
    if stat.S_ISLNK(info.st_mode):
        report.add(section, name, FAIL, f"{path} is a symbolic link; refused", "point at the real file")
        return
    if mode & 0o022:
        problems.append(f"mode {mode:o}: other users can change it")
        refused = True
    elif mode & 0o077:
        problems.append(f"mode {mode:o}: other users can read it")
        refused = refused or not allow_readable
    if info.st_uid != current_uid():
        problems.append(f"owned by uid {info.st_uid}, not by this user (uid {current_uid()})")
        refused = True
    if problems:
        hint = f"chmod 600 {path}" if mode & 0o077 else f"chown $(id -u) {path}"
        if mode & 0o077 and info.st_uid != current_uid():
            hint = f"chown $(id -u) {path} && chmod 600 {path}"
        detail = f"{path}: " + "; ".join(problems) + ("; refused" if refused else "; accepted by --insecure-permissions")
        report.add(section, name, FAIL if refused else WARN, detail, hint)
    else:
        report.add(section, name, OK, f"{path}: mode {mode:o}, owned by this user")


@contextmanager
def _quiet_account_warnings() -> Iterator[None]:
    """The store logs each TOOLS.md problem; the doctor prints them itself, once."""
    accounts_logger = logging.getLogger("binance_spot_mcp.accounts")
    level = accounts_logger.level
    accounts_logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        accounts_logger.setLevel(level)


# ------------------------------------------------------------------------------- local checks
def _check_setup(report: Report, settings: Settings) -> Catalog | None:
    section = "setup"
    catalog = None
    try:
        catalog = load_catalog()
    except ConfigError as exc:
        report.add(section, "SKILL.md", FAIL, exc.message, "reinstall the package (pip install --force-reinstall binance-spot-mcp)")
    else:
        report.add(section, "SKILL.md", OK, f"version {catalog.version}, {plural(len(catalog.endpoints), 'endpoint')}")
        _check_tool_choice(report, section, catalog, settings)
    for environment, url in settings.base_urls.items():
        if environment in BASE_URL_ENV and url != OFFICIAL_BASE_URLS.get(environment):  # paper: mainnet's data
            report.add(section, "base URL", INFO, f"{environment} -> {url} (set by {BASE_URL_ENV[environment]})")
    for credential in settings.env_credentials:
        report.add(section, "environment", INFO, f"account '{credential.name}' ({credential.environment}) from {credential.source}")
    _check_journal(report, section, settings)
    return catalog


def _appendable(path: Path) -> bool:
    """Whether the file opens for appending (nothing is written; this also holds for root)."""
    try:
        with path.open("ab"):
            return True
    except OSError:
        return False


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def _check_journal(report: Report, section: str, settings: Settings) -> None:
    """The audit journal must be writable: without it no state-changing request is sent."""
    journal = settings.journal_file
    hint = "make it writable, or point BINANCE_SPOT_MCP_JOURNAL at a writable file"
    if journal.exists():
        if not journal.is_file():
            report.add(section, "journal", FAIL, f"{journal} is not a regular file: orders cannot be journaled, so none is sent", hint)
        elif not _appendable(journal):
            report.add(section, "journal", FAIL, f"{journal} is not writable: orders cannot be journaled, so none is sent", hint)
        else:
            report.add(section, "journal", OK, f"{journal} ({journal.stat().st_size} bytes); logs go to stderr at {settings.log_level}")
        return
    existing = _nearest_existing(journal.parent)
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        report.add(section, "journal", FAIL, f"{journal} cannot be created ({existing} is not a writable directory): "
                   "orders cannot be journaled, so none is sent", hint)
        return
    report.add(section, "journal", OK, f"{journal} (not written yet); logs go to stderr at {settings.log_level}")


def _check_tool_choice(report: Report, section: str, catalog: Catalog, settings: Settings) -> None:
    """Which tools a server with these settings would offer (--toolsets, --read-only)."""
    selection = Selection(settings.toolsets, settings.read_only)
    try:
        tools = offered_tools(catalog, selection)
    except ConfigError as exc:
        report.add(section, "tools", FAIL, exc.message, "fix --toolsets / $BINANCE_SPOT_MCP_TOOLSETS")
    else:
        size = list_size(tools)
        report.add(section, "tools", INFO, f"{plural(len(tools), 'tool')} offered ({selection.describe()}); "
                   f"tools/list ~{size / CHARS_PER_TOKEN:,.0f} tokens")
    if settings.http_token is not None:
        try:
            check_http_token(settings.http_token)
        except ConfigError as exc:
            report.add(section, "HTTP token", WARN, exc.message, "serve --http will refuse to start with it")


def _check_accounts_file(report: Report, settings: Settings, current: AccountSet, only: str | None) -> None:
    section = "accounts file"
    path = settings.tools_file
    if not path.exists():
        if settings.tools_file_explicit:
            report.add(
                section, "TOOLS.md", FAIL, f"{path} does not exist",
                "check --tools-file / $BINANCE_TOOLS_FILE, or create it: "
                f"binance-spot-mcp --tools-file {path} accounts add main --environment testnet",
            )
        elif settings.env_credentials:
            report.add(section, "TOOLS.md", INFO, f"{path} does not exist; using accounts from environment variables")
        else:
            report.add(
                section, "TOOLS.md", WARN, f"{path} does not exist and no BINANCE_*_API_KEY variables are set: "
                "only public market data will work",
                "binance-spot-mcp accounts add main --environment testnet (or pass --tools-file PATH)",
            )
        return
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        report.add(section, "TOOLS.md", FAIL, f"{path} cannot be read ({exc.strerror or type(exc).__name__})",
                   f"check its owner and mode (chown $(id -u) {path} && chmod 600 {path})")
        return
    except UnicodeDecodeError as exc:
        report.add(section, "TOOLS.md", FAIL, f"{path} is not UTF-8 text (undecodable byte at offset {exc.start})",
                   "save it as UTF-8 (a plain-text editor can convert it)")
        return
    has_section = any(is_section_heading(line.rstrip("\r")) for line in text.split("\n"))
    env_sources = {c.source for c in settings.env_credentials}
    in_file = [n for n, a in current.accounts.items() if a.source not in env_sources]
    broken = list(current.broken)
    names = ", ".join([*in_file, *broken]) or "none"
    verdict = OK if in_file or broken else WARN
    detail = f"{path}: {plural(len(in_file) + len(broken), 'account')} ({names})"
    hint = "" if verdict == OK else "add an account: binance-spot-mcp accounts add main --environment testnet"
    if verdict == WARN and not has_section:
        detail += "; it has no '## Binance Accounts' section, so no account is read from it"
        hint = "add one: binance-spot-mcp accounts add main --environment testnet (see TOOLS.md.example)"
    elif verdict == WARN:
        detail += "; its '## Binance Accounts' section has no '### name' account"
    report.add(section, "TOOLS.md", verdict, detail, hint)
    check_file_mode(report, section, "permissions", path, allow_readable=settings.insecure_permissions)

    broken_problems = {b.problem for b in current.broken.values()}
    field_problems = tuple(p for a in current.accounts.values() for p in a.field_problems)
    for problem in current.problems:
        if problem in broken_problems or problem == current.mode_problem:  # the mode is checked above
            continue
        if problem.startswith(field_problems):  # a FAIL of its account, below
            continue
        report.add(section, "parse", WARN, problem, f"fix or remove that line in {path}")
    for name, usable in current.accounts.items():
        if usable.field_problems and (only is None or name == only):
            report.add(
                section, f"account {name}", FAIL,
                "every change is refused until this is fixed: " + "; ".join(usable.field_problems),
                f"correct the field's name in {path} (the fields are listed in TOOLS.md.example), or remove the line",
            )
    for name, account in current.broken.items():
        if only is not None and name != only:
            continue
        report.add(
            section, f"account {name}", FAIL, account.problem,
            f"fix the account in {path} (format: TOOLS.md.example), or re-add it with "
            f"binance-spot-mcp accounts add {name} --replace ...",
        )


def _check_key_file(report: Report, section: str, account: Account, allow_readable: bool = False) -> None:
    path = account.key_file
    if path is None:
        return
    report.add(section, "key file", OK, f"{path} loads ({account.signing})")
    check_file_mode(report, section, "key file mode", path, allow_readable=allow_readable)


async def diagnose(
    settings: Settings,
    redactor: Redactor,
    *,
    account: str | None = None,
    offline: bool = False,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Report:
    """Run every check (or those for one account). Raises ``UnknownAccount`` for a name that is
    neither a usable nor a broken account."""
    report = Report()
    with _quiet_account_warnings():
        current = AccountStore(settings, redactor).current()
    if account is not None and account not in current.accounts and account not in current.broken:
        listed = ", ".join([*current.accounts, *current.broken]) or "none configured"
        raise UnknownAccount(f"no account named '{account}' (accounts: {listed})")
    catalog = _check_setup(report, settings)
    _check_accounts_file(report, settings, current, account)
    chosen = [a for n, a in current.accounts.items() if account is None or n == account]
    if catalog is not None:
        check_guard_rails(report, settings, catalog, chosen)
    if account is not None and not chosen:
        return report  # the named account is broken: its FAIL is already in the report
    await network_checks(report, settings, catalog, chosen, offline=offline, transport=transport,
                         check_key_file=_check_key_file)
    return report


def _rule_text(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return ", ".join(value) if isinstance(value, list) else str(value)


def check_guard_rails(report: Report, settings: Settings, catalog: Catalog, accounts: Sequence[Account]) -> None:
    """The kill switch, and per account what get_safety_status shows (offline: recorded values only)."""
    switch = killswitch.state(settings)
    if switch.trading:
        report.add("guard rails", "kill switch", OK, f"trading on (halt file {killswitch.halt_path(settings)} absent)")
    else:
        report.add("guard rails", "kill switch", WARN, f"trading OFF: {switch.reason}; only cancels are sent",
                   "binance-spot-mcp resume (or start without --trading off)")
    journal = Journal(settings.journal_file)
    by_name = {a.name: a for a in accounts}
    for account in accounts:
        section, policy, name = "guard rails", account.policy, account.name
        rules = policy.describe()
        text = "; ".join(f"{k.replace('_', ' ')}: {_rule_text(v)}" for k, v in rules.items())
        channel = describe_channel(account, "form")  # doctor has no host: what a host with prompts gets
        detail = f"{urlsplit(account.base_url).netloc}; {text}; approval: {channel if channel.startswith('none') else 'asked'}"
        if account.environment == MAINNET and not policy.has_caps and not policy.dry_run:
            report.add(section, name, WARN, f"a mainnet account with no value caps; {detail}",
                       "add '- Max Order Value: 100 USDT' and '- Max Daily Value: 500 USDT' lines (or server flags)")
        else:
            report.add(section, name, INFO, detail)
        for cap in policy.daily_caps:
            try:
                owner = Owner.of(account, same_key_entries(account, by_name))  # the total follows the key
                spent, unvalued = recorded_spent(journal, catalog, owner, cap.amount.asset)
            except BinanceSpotError as exc:
                report.add(section, f"{name} budget", WARN, exc.message)
                continue
            left = max(cap.amount.value - spent, 0)
            note = f" ({unvalued} order(s) without a recorded {cap.amount.asset} value not counted)" if unvalued else ""
            report.add(section, f"{name} budget", INFO,
                       f"{plain(spent)} of {cap.amount} placed in the last 24 hours; {plain(left)} left{note}")


