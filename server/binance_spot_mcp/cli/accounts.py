"""``binance-spot-mcp accounts list|show|add|remove``: TOOLS.md from the command line. Keys and
secrets are typed without echo (or read from a credentials file) and only ever printed masked;
each change is journaled."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from binance_spot_mcp.accounts.reading import AccountSet
from binance_spot_mcp.accounts.store import BUILTIN_SOURCE, AccountStore
from binance_spot_mcp.accounts.writing import (
    AccountEntry,
    account_names,
    add_account,
    read_credentials_file,
    remove_account,
)
from binance_spot_mcp.config import MAINNET, PAPER, Settings, state_dir
from binance_spot_mcp.errors import BinanceSpotError
from binance_spot_mcp.exchange.signing import KeyLoadError, signer_from_key_file
from binance_spot_mcp.journal import Journal
from binance_spot_mcp.paper.ledger import Ledger
from binance_spot_mcp.redact import Redactor, mask_api_key, mask_secret
from binance_spot_mcp.store import open_store


class CommandError(Exception):
    """A CLI command failed; the message is safe to print (it names things, never secrets)."""


def _out(redactor: Redactor, text: str = "") -> None:
    sys.stdout.write(redactor.redact(text) + "\n")


def _prompt_hidden(label: str) -> str:
    """Read a value without echo (getpass); a closed stdin or Ctrl-C is a clear error."""
    try:
        value = getpass.getpass(f"{label} (input hidden): ")
    except (EOFError, KeyboardInterrupt):
        raise CommandError(f"no {label} was entered (input closed)") from None
    value = value.strip()
    if not value:
        raise CommandError(f"no {label} was entered")
    return value


def _readable(settings: Settings, redactor: Redactor) -> AccountSet:
    """The accounts, or a CommandError saying why TOOLS.md was refused and how to fix it (a
    refused file is not "no accounts": its accounts exist but cannot be read)."""
    current = AccountStore(settings, redactor).current()
    if current.file_problem is not None:
        fix = f" (fix: {current.file_fix})" if current.file_fix else ""
        raise CommandError(f"{current.file_problem}; no account from it can be listed or used{fix}")
    return current


def _accounts_list(settings: Settings, redactor: Redactor) -> int:
    current = _readable(settings, redactor)
    if not current.accounts and not current.broken:
        _out(redactor, f"no accounts configured ({settings.tools_file})")
        return 0
    names = [*current.accounts, *current.broken]
    width = max(len(n) for n in names)
    for account in current.accounts.values():
        built_in = f"  (built in: {settings.tools_file} does not exist yet)" if account.source == BUILTIN_SOURCE else ""
        _out(redactor, f"{account.name:<{width}}  {account.environment}{built_in}")
    for name in current.broken:
        _out(redactor, f"{name:<{width}}  unusable (binance-spot-mcp accounts show {name})")
    return 0


def _accounts_show(settings: Settings, redactor: Redactor, name: str) -> int:
    current = _readable(settings, redactor)
    if name in current.broken:
        raise CommandError(f"account '{name}' cannot be used: {current.broken[name].problem}")
    account = current.accounts.get(name)
    if account is None:
        listed = ", ".join(current.accounts) or "none"
        raise CommandError(f"no account named '{name}' (accounts: {listed})")
    secret_label, secret_value = ("secret", account.secret_display)
    if account.key_file is not None:
        secret_label, secret_value = "private key file", str(account.key_file)
    rows = [
        ("name", account.name),
        ("environment", account.environment),
        ("signing", account.signing),
        ("API key", account.masked_api_key),
        (secret_label, secret_value),
        ("base URL", account.base_url),
        ("description", account.description),
        ("source", account.source),
    ]
    rows = [(label, value) for label, value in rows if value]
    width = max(len(label) for label, _ in rows) + 1
    for label, value in rows:
        _out(redactor, f"{label + ':':<{width}} {value}")
    return 0


def _accounts_add(settings: Settings, redactor: Redactor, args: argparse.Namespace) -> int:
    path = settings.tools_file
    if args.key_file and args.credentials_file:
        raise CommandError("give --key-file (RSA/Ed25519) or --credentials-file (HMAC), not both")
    if args.passphrase_prompt and not args.key_file:
        raise CommandError("--passphrase-prompt goes with --key-file")
    existed = args.name in account_names(path)
    if existed and not args.replace:
        raise CommandError(f"an account named '{args.name}' already exists in {path} (use --replace to replace it)")
    if args.environment == PAPER:
        return _add_paper(settings, redactor, args, existed)
    if getattr(args, "paper_balances", None):
        raise CommandError("--paper-balances goes with --environment paper")
    # Check the name, description and base URL before asking for any key.
    AccountEntry(
        args.name,
        args.environment,
        "placeholder",
        secret="placeholder",
        description=args.description,
        base_url=args.base_url,
    )

    secret: str | None = None
    key_file: str | None = None
    passphrase: str | None = None
    signing = "HMAC_SHA256"
    if args.credentials_file:
        api_key, secret = read_credentials_file(
            Path(args.credentials_file), allow_readable=settings.insecure_permissions
        )
    elif args.key_file:
        key_path = Path(args.key_file).expanduser().absolute()
        if args.passphrase_prompt:
            passphrase = _prompt_hidden("passphrase of the private key")
            redactor.add_opaque(passphrase)
        try:
            signing = signer_from_key_file(key_path, passphrase, allow_readable=settings.insecure_permissions).kind
        except KeyLoadError as exc:
            raise CommandError(str(exc)) from None
        key_file = str(key_path)
        api_key = _prompt_hidden("API key")
    else:
        api_key = _prompt_hidden("API key")
        secret = _prompt_hidden("API secret")
    redactor.add_api_key(api_key)
    if secret is not None:
        redactor.add_secret(secret)

    entry = AccountEntry(
        args.name,
        args.environment,
        api_key,
        secret=secret,
        private_key_file=key_file,
        passphrase=passphrase,
        description=args.description,
        base_url=args.base_url,
    )
    add_account(path, entry, replace=args.replace)
    _journal_account_change(settings, redactor, "replace" if existed else "add", entry.name, entry.environment)

    verb, where = ("Replaced", "in") if existed else ("Added", "to")
    _out(redactor, f"{verb} account '{entry.name}' ({entry.environment}, {signing}) {where} {path}")
    _out(redactor, f"  API key: {mask_api_key(api_key)}")
    if secret is not None:
        _out(redactor, f"  secret:  {mask_secret(secret)}")
    else:
        _out(redactor, f"  private key file: {key_file}")
    if entry.environment == MAINNET:
        sys.stderr.write("note: a mainnet account; every change on it needs the human's approval in the host\n")
    current = AccountStore(settings, redactor).current()
    if entry.name in current.broken:
        raise CommandError(f"the account was written but cannot be used: {current.broken[entry.name].problem}")
    return 0


def _add_paper(settings: Settings, redactor: Redactor, args: argparse.Namespace, existed: bool) -> int:
    """A paper account: nothing to prompt for, no key to keep."""
    if args.key_file or args.credentials_file or args.passphrase_prompt:
        raise CommandError("a paper account takes no key: drop --key-file / --credentials-file / --passphrase-prompt")
    entry = AccountEntry(args.name, PAPER, "", description=args.description, base_url=args.base_url,
                         paper_balances=args.paper_balances)
    add_account(settings.tools_file, entry, replace=args.replace)
    _journal_account_change(settings, redactor, "replace" if existed else "add", entry.name, PAPER)
    verb, where = ("Replaced", "in") if existed else ("Added", "to")
    _out(redactor, f"{verb} paper account '{entry.name}' {where} {settings.tools_file}")
    account = AccountStore(settings, redactor).current().accounts.get(entry.name)
    if account is None or account.paper is None:
        raise CommandError(f"the account was written but cannot be used; run `binance-spot-mcp accounts show {entry.name}`")
    _out(redactor, f"  {account.paper.describe()}; market data from {account.base_url}")
    return 0


def _accounts_reset(settings: Settings, redactor: Redactor, name: str, yes: bool) -> int:
    """Start a paper account over: its orders, trades and balances in the desk database are forgotten."""
    account = AccountStore(settings, redactor).resolve(name)
    if account.paper is None:
        raise CommandError(f"'{name}' is a {account.environment} account; only a paper account can be reset")
    if not yes:
        if not sys.stdin.isatty():
            raise CommandError("resetting forgets every order and trade of the account: add --yes to confirm")
        answer = input(f"Forget every order and trade of paper account '{name}' and restore its starting balances? "
                       "Type the account name to confirm: ")
        if answer.strip() != name:
            _out(redactor, "Not reset.")
            return 1
    existed = Ledger(open_store(state_dir(settings))).reset(name)
    _journal_account_change(settings, redactor, "reset", name, PAPER)
    state = "was reset" if existed else "had nothing to forget"
    _out(redactor, f"Paper account '{name}' {state}: it {account.paper.describe()}")
    return 0


def _journal_account_change(
    settings: Settings, redactor: Redactor, action: str, name: str, environment: str | None
) -> None:
    """Account changes typed in a terminal are the human's own; they are journaled all the same."""
    try:
        Journal(settings.journal_file, redactor=redactor).record_account_change(
            action=action, account=name, environment=environment, via="cli"
        )
    except BinanceSpotError as exc:
        sys.stderr.write(f"warning: the change was made but not journaled: {redactor.redact(exc.message)}\n")


def _accounts_remove(settings: Settings, redactor: Redactor, name: str) -> int:
    if not remove_account(settings.tools_file, name):
        raise CommandError(f"no account named '{name}' in {settings.tools_file}")
    _journal_account_change(settings, redactor, "remove", name, None)
    _out(redactor, f"Removed account '{name}' from {settings.tools_file}")
    return 0


def accounts_command(args: argparse.Namespace, settings: Settings, redactor: Redactor) -> int:
    command = args.accounts_command
    if command == "list":
        return _accounts_list(settings, redactor)
    if command == "show":
        return _accounts_show(settings, redactor, args.name)
    if command == "add":
        return _accounts_add(settings, redactor, args)
    if command == "reset":
        return _accounts_reset(settings, redactor, args.name, args.yes)
    return _accounts_remove(settings, redactor, args.name)
