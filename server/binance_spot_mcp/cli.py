"""Command line: ``binance-spot-mcp [serve]`` runs the MCP server over stdio (``serve --http``:
streamable HTTP, see ``http_transport``);
``binance-spot-mcp tools [--json]`` prints the endpoint catalog;
``binance-spot-mcp accounts list|show|add|remove`` manages TOOLS.md (keys are typed without
echo and only ever printed masked); ``binance-spot-mcp journal [-n N] [--json]`` shows the
audit journal of state-changing requests; ``binance-spot-mcp doctor [ACCOUNT] [--json]
[--offline]`` checks the set-up (TOOLS.md, key files, reachability, clock, keys) and says how to fix it.

Logging is configured here, once, to stderr, through the redacting filter: stdout belongs to
the MCP protocol (invariant 6).
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import anyio

from binance_spot_mcp import __version__
from binance_spot_mcp.accounts import AccountStore
from binance_spot_mcp.accounts_file import (
    AccountEntry,
    account_names,
    add_account,
    read_credentials_file,
    remove_account,
)
from binance_spot_mcp.catalog import Catalog, Endpoint, load_catalog
from binance_spot_mcp.config import (
    ENVIRONMENTS,
    HTTP_TOKEN_ENV,
    MAINNET,
    Settings,
    check_http_token,
    load_settings,
)
from binance_spot_mcp.errors import BinanceSpotError, CatalogError, ConfigError
from binance_spot_mcp.journal import DEFAULT_LATEST, INTENT, Journal
from binance_spot_mcp.redact import RedactingFilter, Redactor, mask_api_key, mask_secret
from binance_spot_mcp.schema import plain_decimal
from binance_spot_mcp.signing import KeyLoadError, signer_from_key_file
from binance_spot_mcp.toolsets import Selection, size_markdown

logger = logging.getLogger(__name__)


def configure_logging(level: str, redactor: Redactor) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(redactor))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level.upper(), logging.WARNING))
    # httpx logs every request URL at INFO, websockets every frame at DEBUG; ours carry
    # signatures (and, on the WebSocket API, the API key). Their news is ours to tell.
    for noisy in ("httpx", "httpcore", "websockets"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="binance-spot-mcp",
        description="MCP server for the Binance Spot REST API (every endpoint as a tool).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--tools-file",
        metavar="PATH",
        help="accounts file (default: $BINANCE_TOOLS_FILE, else ./TOOLS.md)",
    )
    parser.add_argument("--log-level", default=None, help="DEBUG, INFO, WARNING (default) or ERROR; logs go to stderr")
    elicitation_help = (
        "refuse mainnet changes unless the host can show the CONFIRM prompt (no token fallback); "
        "also $BINANCE_SPOT_MCP_REQUIRE_ELICITATION=1"
    )
    parser.add_argument("--require-elicitation", action="store_true", help=elicitation_help)
    toolsets_help = (
        "comma-separated toolsets to offer (market, account, trade, order_lists, admin; default all); "
        "also $BINANCE_SPOT_MCP_TOOLSETS"
    )
    read_only_help = "offer no tool that changes anything (wins over --toolsets); also $BINANCE_SPOT_MCP_READ_ONLY=1"
    parser.add_argument("--toolsets", metavar="A,B", default=None, help=toolsets_help)
    parser.add_argument("--read-only", action="store_true", help=read_only_help)
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser("serve", help="run the MCP server over stdio (the default), or --http")
    serve.add_argument("--require-elicitation", action="store_true", default=argparse.SUPPRESS, help=elicitation_help)
    _add_http_arguments(serve)
    serve.add_argument("--toolsets", metavar="A,B", default=argparse.SUPPRESS, help=toolsets_help)
    serve.add_argument("--read-only", action="store_true", default=argparse.SUPPRESS, help=read_only_help)
    tools = commands.add_parser("tools", help="print the tools this configuration offers (see --toolsets, --read-only)")
    tools.add_argument("--json", action="store_true", help="machine-readable JSON")
    tools.add_argument(
        "--sizes", action="store_true", help="tools/list size of each toolset, as a markdown table (chars and ~tokens)"
    )

    accounts = commands.add_parser("accounts", help="list, show, add or remove accounts in TOOLS.md")
    actions = accounts.add_subparsers(dest="accounts_command", metavar="{list,show,add,remove}")
    actions.required = True
    actions.add_parser("list", help="account names and environments (never keys)")
    show = actions.add_parser("show", help="one account, with its key and secret masked")
    show.add_argument("name")
    add = actions.add_parser(
        "add",
        help="add an account; the API key and secret are typed without echo",
        description=(
            "Add an account to TOOLS.md. The API key and the secret are prompted for without echo, "
            "unless --credentials-file gives both (API key on line 1, secret on line 2); with --key-file "
            "(RSA or Ed25519 PEM) only the API key is prompted for. Only the masked forms are printed."
        ),
    )
    add.add_argument("name")
    add.add_argument("--environment", required=True, choices=ENVIRONMENTS)
    add.add_argument("--key-file", metavar="PEM", help="private key file (RSA or Ed25519) instead of an HMAC secret")
    add.add_argument("--passphrase-prompt", action="store_true", help="prompt for the key file's passphrase")
    add.add_argument("--credentials-file", metavar="PATH", help="two-line file: API key, then secret")
    add.add_argument("--description", default="", metavar="TEXT")
    add.add_argument("--base-url", metavar="URL", help="Binance https host or loopback only (for testing)")
    add.add_argument("--replace", action="store_true", help="replace an existing account of the same name")
    remove = actions.add_parser("remove", help="remove an account from TOOLS.md")
    remove.add_argument("name")

    journal = commands.add_parser("journal", help="show the latest entries of the audit journal")
    journal.add_argument(
        "-n", type=int, default=DEFAULT_LATEST, metavar="N", help=f"how many entries (default {DEFAULT_LATEST})"
    )
    journal.add_argument("--json", action="store_true", help="machine-readable JSON")

    doctor = commands.add_parser(
        "doctor",
        help="check TOOLS.md, key files, reachability, clock and keys; say how to fix what is wrong",
        description="Check the set-up and print one verdict per check (OK, WARN, FAIL, SKIP, INFO) with a hint. "
        "Exit 0 when nothing FAILs, 1 when something does, 2 for usage errors (e.g. an unknown account).",
    )
    doctor.add_argument("account", nargs="?", help="check only this account (default: all)")
    doctor.add_argument("--json", action="store_true", help="machine-readable JSON")
    doctor.add_argument("--offline", action="store_true", help="skip the network checks (ping, clock, signed read)")
    return parser


def catalog_json(catalog: Catalog, endpoints: Sequence[Endpoint] | None = None) -> list[dict[str, Any]]:
    """The catalog (or some of its endpoints) as plain data: what ``tools --json`` prints."""

    def param(endpoint: Endpoint, name: str) -> dict[str, Any]:
        p = endpoint.params[name]
        out: dict[str, Any] = {"name": name, "type": p.type.value, "required": name in endpoint.required}
        if p.values:
            out["enum"] = list(p.values)
        c = p.constraints
        for key, value in (
            ("minimum", c.minimum),
            ("maximum", c.maximum),
            ("minLength", c.min_length),
            ("maxLength", c.max_length),
            ("maxItems", c.max_items),
        ):
            if value is not None:
                out[key] = plain_decimal(value) if key in {"minimum", "maximum"} else value
        out["description"] = p.description
        return out

    return [
        {
            "name": e.tool,
            "toolset": e.toolset,
            "method": e.method,
            "path": e.path,
            "security": e.security.value,
            "signed": e.signed,
            "changes_state": e.changes_state,
            "description": e.description,
            "parameters": [param(e, n) for n in e.params],
            "rules": [r.describe() for r in e.rules],
        }
        for e in (catalog.endpoints if endpoints is None else endpoints)
    ]


def _print_tools(catalog: Catalog, offered: set[str], *, as_json: bool, sizes: bool) -> None:
    if sizes:
        from binance_spot_mcp.server import tool_list_sizes

        sys.stdout.write(size_markdown(tool_list_sizes(catalog)) + "\n")
        return
    endpoints = [e for e in catalog.endpoints if e.tool in offered]
    if as_json:
        sys.stdout.write(json.dumps(catalog_json(catalog, endpoints), indent=2) + "\n")
        return
    if endpoints:
        width = max(len(e.tool) for e in endpoints)
        for e in endpoints:
            sys.stdout.write(f"{e.tool:<{width}}  {e.toolset:<11} {e.method:<6} {e.path:<36} {e.security.value}\n")
    server_tools = sorted(offered - {e.tool for e in catalog.endpoints})
    sys.stdout.write(
        f"{len(endpoints)} of {len(catalog.endpoints)} endpoints (SKILL.md {catalog.version})"
        + (f"; server tools: {', '.join(server_tools)}" if server_tools else "")
        + "\n"
    )


def _add_http_arguments(serve: argparse.ArgumentParser) -> None:
    http = serve.add_argument_group("streamable HTTP (instead of stdio)")
    http.add_argument(
        "--http", action="store_true", help=f"serve streamable HTTP; clients send Authorization: Bearer ${HTTP_TOKEN_ENV} "
        "(a token is generated and shown once when that is unset)"
    )
    http.add_argument("--host", help="address to listen on (default 127.0.0.1; non-loopback needs --allow-remote)")
    http.add_argument("--port", type=int, help="port to listen on (default 8765; 0 picks a free one)")
    http.add_argument("--path", help="endpoint path (default /mcp)")
    http.add_argument("--allow-remote", action="store_true", default=None, help="allow a non-loopback --host (put TLS in front)")
    http.add_argument(
        "--allowed-host", action="append", metavar="HOST[:PORT]",
        help="also accept this Host header (e.g. a reverse proxy's public name); repeatable",
    )


def _http_options(args: argparse.Namespace) -> Any:
    """``HttpOptions`` for ``serve --http``, None for stdio; ConfigError for a refused combination."""
    names = ("host", "port", "path", "allow_remote", "allowed_host")
    given = {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}
    if not getattr(args, "http", False):
        if given:
            flags = ", ".join("--" + name.replace("_", "-") for name in given)
            raise ConfigError(f"use {flags} together with serve --http")
        return None
    from binance_spot_mcp.http_transport import HttpOptions

    options = HttpOptions(
        **{k: given[k] for k in ("host", "port", "path", "allow_remote") if k in given},
        allowed_hosts=tuple(given.get("allowed_host", ())),
    )
    options.check()
    return options


def _serve_http(runtime: Any, options: Any, configured_token: str | None) -> int:
    from binance_spot_mcp import http_transport

    try:
        sock = http_transport.bind_socket(options.host, options.port)
    except OSError as exc:
        anyio.run(runtime.aclose)
        sys.stderr.write(f"binance-spot-mcp: cannot listen on {options.host}:{options.port}: {exc.strerror or exc}\n")
        return 1
    token, generated = http_transport.resolve_token(configured_token)
    sys.stderr.write(http_transport.startup_notice(options, http_transport.bound_port(sock), token, generated))
    sys.stderr.flush()
    anyio.run(http_transport.serve_http, runtime, sock, options, token)
    return 0


async def _serve_stdio(runtime: Any) -> None:
    from mcp.server.stdio import stdio_server

    from binance_spot_mcp.server import build_server

    server = build_server(runtime)
    try:
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())
    finally:
        await runtime.aclose()


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


def _accounts_list(settings: Settings, redactor: Redactor) -> int:
    current = AccountStore(settings, redactor).current()
    if not current.accounts and not current.broken:
        _out(redactor, f"no accounts configured ({settings.tools_file})")
        return 0
    names = [*current.accounts, *current.broken]
    width = max(len(n) for n in names)
    for account in current.accounts.values():
        _out(redactor, f"{account.name:<{width}}  {account.environment}")
    for name in current.broken:
        _out(redactor, f"{name:<{width}}  unusable (binance-spot-mcp accounts show {name})")
    return 0


def _accounts_show(settings: Settings, redactor: Redactor, name: str) -> int:
    current = AccountStore(settings, redactor).current()
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
        api_key, secret = read_credentials_file(Path(args.credentials_file))
    elif args.key_file:
        key_path = Path(args.key_file).expanduser().absolute()
        if args.passphrase_prompt:
            passphrase = _prompt_hidden("passphrase of the private key")
            redactor.add_opaque(passphrase)
        try:
            signing = signer_from_key_file(key_path, passphrase).kind
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

    verb, where = ("Replaced", "in") if existed else ("Added", "to")
    _out(redactor, f"{verb} account '{entry.name}' ({entry.environment}, {signing}) {where} {path}")
    _out(redactor, f"  API key: {mask_api_key(api_key)}")
    if secret is not None:
        _out(redactor, f"  secret:  {mask_secret(secret)}")
    else:
        _out(redactor, f"  private key file: {key_file}")
    if entry.environment == MAINNET:
        sys.stderr.write("note: a mainnet account; every order on it needs the human to type CONFIRM\n")
    current = AccountStore(settings, redactor).current()
    if entry.name in current.broken:
        raise CommandError(f"the account was written but cannot be used: {current.broken[entry.name].problem}")
    return 0


def _accounts_remove(settings: Settings, redactor: Redactor, name: str) -> int:
    if not remove_account(settings.tools_file, name):
        raise CommandError(f"no account named '{name}' in {settings.tools_file}")
    _out(redactor, f"Removed account '{name}' from {settings.tools_file}")
    return 0


def _accounts_command(args: argparse.Namespace, settings: Settings, redactor: Redactor) -> int:
    command = args.accounts_command
    if command == "list":
        return _accounts_list(settings, redactor)
    if command == "show":
        return _accounts_show(settings, redactor, args.name)
    if command == "add":
        return _accounts_add(settings, redactor, args)
    return _accounts_remove(settings, redactor, args.name)


def _pairs(values: Mapping[str, Any]) -> str:
    return " ".join(
        f"{k}={v if isinstance(v, str) else json.dumps(v, separators=(',', ':'), default=str)}"
        for k, v in values.items()
    )


def journal_line(entry: Mapping[str, Any]) -> str:
    """One journal entry as one readable line."""
    head = f"{entry.get('ts', '?')}  {entry.get('id', '?')}  {entry.get('phase', '?'):<7}"
    if entry.get("phase") == INTENT:
        params = entry.get("params")
        text = (
            f"{head}  {entry.get('tool')} on {entry.get('account')} ({entry.get('environment')}): "
            f"{entry.get('method')} {entry.get('path')}"
        )
        return f"{text}  {_pairs(params)}" if isinstance(params, Mapping) and params else text
    status = entry.get("status")
    answer = f"HTTP {status}" if status is not None else "no HTTP answer"
    text = f"{head}  {'ok' if entry.get('ok') else 'FAILED'}  {answer}"
    summary = entry.get("summary")
    return f"{text}  {_pairs(summary)}" if isinstance(summary, Mapping) and summary else text


def _journal_command(args: argparse.Namespace, settings: Settings, redactor: Redactor) -> int:
    if args.n < 1:
        raise CommandError("-n must be at least 1")
    entries = Journal(settings.journal_file, redactor=redactor).latest(args.n)
    if args.json:
        _out(redactor, json.dumps(entries, indent=2, ensure_ascii=False))
        return 0
    if not entries:
        _out(redactor, f"no journal entries yet ({settings.journal_file})")
        return 0
    for entry in entries:
        _out(redactor, journal_line(entry))
    return 0


def _doctor_command(args: argparse.Namespace, settings: Settings, redactor: Redactor) -> int:
    from binance_spot_mcp import doctor

    try:
        report = anyio.run(lambda: doctor.diagnose(settings, redactor, account=args.account, offline=args.offline))
    except doctor.UnknownAccount as exc:
        sys.stderr.write(f"binance-spot-mcp: {redactor.redact(exc.message)}\n")
        return 2
    if args.json:
        _out(redactor, doctor.render_json(report))
    else:
        for line in doctor.render_text(report):
            _out(redactor, line)
    return report.exit_code


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    redactor = Redactor()
    try:
        settings = load_settings(
            tools_file=args.tools_file,
            require_elicitation=True if args.require_elicitation else None,
            toolsets=args.toolsets,
            read_only=True if args.read_only else None,
        )
        configure_logging(args.log_level or settings.log_level, redactor)
    except ConfigError as exc:
        sys.stderr.write(f"binance-spot-mcp: {redactor.redact(exc.message)}\n")
        return 2
    if args.command == "doctor":
        return _doctor_command(args, settings, redactor)
    if args.command in {"accounts", "journal"}:
        try:
            if args.command == "accounts":
                return _accounts_command(args, settings, redactor)
            return _journal_command(args, settings, redactor)
        except (CommandError, BinanceSpotError) as exc:
            message = exc.message if isinstance(exc, BinanceSpotError) else str(exc)
            sys.stderr.write(f"binance-spot-mcp: {redactor.redact(message)}\n")
            hint = getattr(exc, "hint", "")
            if hint:
                sys.stderr.write(f"hint: {redactor.redact(hint)}\n")
            return 1
    try:
        catalog = load_catalog()
    except ConfigError as exc:
        sys.stderr.write(f"binance-spot-mcp: {redactor.redact(exc.message)}\n")
        return 2
    from binance_spot_mcp.server import Runtime, offered_tools

    try:
        selection = Selection(settings.toolsets, settings.read_only)
        offered = offered_tools(catalog, selection)
    except (ConfigError, CatalogError) as exc:
        sys.stderr.write(f"binance-spot-mcp: {redactor.redact(exc.message)}\n")
        return 2
    if args.command == "tools":
        _print_tools(catalog, {t.name for t in offered}, as_json=args.json, sizes=args.sizes)
        return 0

    try:
        http = _http_options(args)
        if http is not None:
            check_http_token(settings.http_token)
    except ConfigError as exc:
        sys.stderr.write(f"binance-spot-mcp: {redactor.redact(exc.message)}\n")
        return 2
    runtime = Runtime(settings=settings, catalog=catalog, redactor=redactor)
    current = runtime.accounts.current()
    logger.info(
        "serving %d tools; %d account(s) from %s", len(runtime.tools), len(current.accounts), settings.tools_file
    )
    try:
        if http is not None:
            return _serve_http(runtime, http, settings.http_token)
        anyio.run(_serve_stdio, runtime)
    except KeyboardInterrupt:
        return 130
    return 0
