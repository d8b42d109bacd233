"""Command line: ``binance-spot-mcp [serve]`` runs the MCP server over stdio (``serve --http``:
streamable HTTP, see ``transport.http``);
``binance-spot-mcp tools [--json]`` prints the endpoint catalog;
``binance-spot-mcp accounts list|show|add|remove`` manages TOOLS.md (``cli.accounts``: keys
are typed without echo and only ever printed masked); ``binance-spot-mcp journal [-n N] [--json]
[--account A] [--symbol S] [--since T] [--until T]`` shows the audit journal of state-changing
requests (``cli.journal_filter``); ``binance-spot-mcp doctor [ACCOUNT] [--json]
[--offline]`` checks the set-up (TOOLS.md, key files, reachability, clock, keys) and says how to fix it;
``binance-spot-mcp halt [--reason TEXT]`` / ``resume`` flip the kill switch (the halt file).

Logging is configured here, once, to stderr, through the redacting filter: stdout belongs to
the MCP protocol (invariant 6).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from typing import Any

import anyio

from binance_spot_mcp import __version__
from binance_spot_mcp.catalog.endpoints import load_catalog
from binance_spot_mcp.catalog.toolsets import Selection
from binance_spot_mcp.cli import export as export_cli
from binance_spot_mcp.cli.accounts import CommandError, _out, accounts_command
from binance_spot_mcp.cli.journal_filter import EPOCH, JournalFilter, parse_when
from binance_spot_mcp.cli.listings import journal_line, print_tools
from binance_spot_mcp.config import (
    ACCOUNT_ENVIRONMENTS,
    HTTP_TOKEN_ENV,
    Settings,
    check_http_token,
    load_settings,
)
from binance_spot_mcp.errors import BinanceSpotError, CatalogError, ConfigError
from binance_spot_mcp.journal import DEFAULT_LATEST, Journal
from binance_spot_mcp.redact import RedactingFilter, Redactor

logger = logging.getLogger(__name__)


class PlainFormatter(logging.Formatter):
    """For the one-shot commands: ``binance-spot-mcp: warning: ...``, like their other messages."""

    def format(self, record: logging.LogRecord) -> str:
        text = f"binance-spot-mcp: {record.levelname.lower()}: {record.getMessage()}"
        return text + "\n" + self.formatException(record.exc_info) if record.exc_info else text


def configure_logging(level: str, redactor: Redactor, *, plain: bool = False) -> None:
    """Logs to stderr: timestamped records for the server, plain lines for the other commands."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(PlainFormatter() if plain else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(redactor))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level.upper(), logging.WARNING))
    # httpx logs every request URL at INFO, websockets every frame at DEBUG; ours carry
    # signatures (and, on the WebSocket API, the API key). Their news is ours to tell.
    for noisy in ("httpx", "httpcore", "websockets"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _toolset_names() -> str:
    """The toolsets the skill declares, for --help (the list cannot drift from the catalog)."""
    try:
        return ", ".join(load_catalog().toolsets)
    except CatalogError:
        return "see the skill's Toolsets table"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="binance-spot-mcp",
        description="MCP server for the Binance Spot REST API (every endpoint as a tool).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _add_common_options(parser, suppress=False)
    elicitation_help = (
        "never accept CONFIRM relayed through the chat, even where it was allowed; "
        "also $BINANCE_SPOT_MCP_REQUIRE_ELICITATION=1"
    )
    chat_help = (
        "allow mainnet changes to be approved by CONFIRM typed in the chat and relayed by the model, on hosts "
        "with no approval prompt, page or card (only as trustworthy as the model); also "
        "$BINANCE_SPOT_MCP_ALLOW_CHAT_CONFIRM=1"
    )
    parser.add_argument("--require-elicitation", action="store_true", help=elicitation_help)
    parser.add_argument("--allow-chat-confirm", action="store_true", help=chat_help)
    toolsets_help = (
        f"comma-separated toolsets to offer ({_toolset_names()}; default all); "
        "also $BINANCE_SPOT_MCP_TOOLSETS"
    )
    read_only_help = "offer no tool that changes anything (wins over --toolsets); also $BINANCE_SPOT_MCP_READ_ONLY=1"
    insecure_help = (
        "accept a TOOLS.md or key file that other users can read (never one they can write); "
        "without it such files are refused, like ssh does"
    )
    parser.add_argument("--toolsets", metavar="A,B", default=None, help=toolsets_help)
    parser.add_argument("--read-only", action="store_true", help=read_only_help)
    parser.add_argument("--insecure-permissions", action="store_true", help=insecure_help)
    _add_policy_arguments(parser, default=None)
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser("serve", help="run the MCP server over stdio (the default), or --http")
    serve.add_argument("--require-elicitation", action="store_true", default=argparse.SUPPRESS, help=elicitation_help)
    serve.add_argument("--allow-chat-confirm", action="store_true", default=argparse.SUPPRESS, help=chat_help)
    _add_http_arguments(serve)
    serve.add_argument("--toolsets", metavar="A,B", default=argparse.SUPPRESS, help=toolsets_help)
    serve.add_argument("--read-only", action="store_true", default=argparse.SUPPRESS, help=read_only_help)
    serve.add_argument("--insecure-permissions", action="store_true", default=argparse.SUPPRESS, help=insecure_help)
    _add_policy_arguments(serve, default=argparse.SUPPRESS)
    tools = commands.add_parser("tools", help="print the tools this configuration offers (see --toolsets, --read-only)")
    tools.add_argument("--json", action="store_true", help="machine-readable JSON")
    tools.add_argument(
        "--sizes", action="store_true", help="tools/list size of each toolset, as a markdown table (chars and ~tokens)"
    )

    accounts = commands.add_parser("accounts", help="list, show, add, remove or reset accounts in TOOLS.md")
    actions = accounts.add_subparsers(dest="accounts_command", metavar="{list,show,add,remove,reset}")
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
            "(RSA or Ed25519 PEM) only the API key is prompted for. Only the masked forms are printed. "
            "A paper account (--environment paper) has no key: nothing is prompted for."
        ),
    )
    add.add_argument("name")
    add.add_argument("--environment", required=True, choices=ACCOUNT_ENVIRONMENTS)
    add.add_argument("--paper-balances", metavar="TEXT", help="a paper account's starting balances, e.g. '10000 USDT, 0.05 BTC'")
    add.add_argument("--key-file", metavar="PEM", help="private key file (RSA or Ed25519) instead of an HMAC secret")
    add.add_argument("--passphrase-prompt", action="store_true", help="prompt for the key file's passphrase")
    add.add_argument("--credentials-file", metavar="PATH", help="two-line file: API key, then secret")
    add.add_argument("--description", default="", metavar="TEXT")
    add.add_argument("--base-url", metavar="URL", help="Binance https host or loopback only (for testing)")
    add.add_argument("--replace", action="store_true", help="replace an existing account of the same name")
    remove = actions.add_parser("remove", help="remove an account from TOOLS.md")
    remove.add_argument("name")
    reset = actions.add_parser("reset", help="start a paper account over: forget its orders and trades, restore its balances")
    reset.add_argument("name")
    reset.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    journal = commands.add_parser("journal", help="show the latest entries of the audit journal")
    journal.add_argument(
        "-n", type=int, default=DEFAULT_LATEST, metavar="N", help=f"how many entries (default {DEFAULT_LATEST})"
    )
    journal.add_argument("--json", action="store_true", help="machine-readable JSON")
    journal.add_argument("--account", metavar="NAME", help="only this account's entries")
    journal.add_argument("--symbol", metavar="SYMBOL", help="only requests for this symbol (and their outcomes)")
    journal.add_argument("--since", metavar="WHEN", help="from this time on: 2026-12-07, 2026-12-07T05:00 (UTC), or 24h, 7d back")
    journal.add_argument("--until", metavar="WHEN", help="up to this time (same forms as --since)")

    halt = commands.add_parser(
        "halt", help="kill switch: stop every state-changing request of every server sharing this journal (cancels pass)"
    )
    halt.add_argument("--reason", default="", metavar="TEXT", help="shown to the assistant with each refusal")
    commands.add_parser("resume", help="remove the halt file: trading is allowed again")

    doctor = commands.add_parser(
        "doctor",
        help="check TOOLS.md, key files, reachability, clock and keys; say how to fix what is wrong",
        description="Check the set-up and print one verdict per check (OK, WARN, FAIL, SKIP, INFO) with a hint. "
        "Exit 0 when nothing FAILs, 1 when something does, 2 for usage errors (e.g. an unknown account).",
    )
    doctor.add_argument("account", nargs="?", help="check only this account (default: all)")
    doctor.add_argument("--json", action="store_true", help="machine-readable JSON")
    doctor.add_argument("--offline", action="store_true", help="skip the network checks (ping, clock, signed read)")
    export_trades = export_cli.add_parser(commands)
    for command in (serve, tools, journal, doctor, export_trades, *actions.choices.values()):
        _add_common_options(command, suppress=True)  # also after the subcommand: doctor --tools-file X
    for command in (tools, journal, doctor, export_trades, *actions.choices.values()):
        command.add_argument("--toolsets", metavar="A,B", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        command.add_argument("--read-only", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return parser


def _add_common_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """--tools-file and --log-level, before the subcommand or (``suppress``: no default) after it."""
    default: Any = argparse.SUPPRESS if suppress else None
    parser.add_argument(
        "--tools-file", metavar="PATH", default=default,
        help="accounts file (default: $BINANCE_TOOLS_FILE, else ./TOOLS.md)",
    )
    parser.add_argument(
        "--log-level", default=default, help="DEBUG, INFO, WARNING (default) or ERROR; logs go to stderr"
    )


def _add_policy_arguments(parser: argparse.ArgumentParser, *, default: Any) -> None:
    """Server-wide guard rails (each also an environment variable; see config.POLICY_ENV)."""
    rails = parser.add_argument_group("guard rails (server-wide; an account's TOOLS.md lines can only tighten them)")
    amount = "e.g. '100 USDT'"
    rails.add_argument("--max-order-value", metavar="AMOUNT", default=default,
                       help=f"cap on one order's value, {amount}; also $BINANCE_SPOT_MCP_MAX_ORDER_VALUE")
    rails.add_argument("--max-daily-value", metavar="AMOUNT", default=default,
                       help=f"cap on orders placed in any 24 hours, {amount}; also $BINANCE_SPOT_MCP_MAX_DAILY_VALUE")
    rails.add_argument("--allowed-symbols", metavar="LIST", default=default,
                       help="only these symbols, e.g. 'BTCUSDT,ETH*'; also $BINANCE_SPOT_MCP_ALLOWED_SYMBOLS")
    rails.add_argument("--denied-symbols", metavar="LIST", default=default,
                       help="never these symbols; also $BINANCE_SPOT_MCP_DENIED_SYMBOLS")
    rails.add_argument("--dry-run", action="store_const", const="true", default=default,
                       help="send nothing; answer with the preview and verdict; also $BINANCE_SPOT_MCP_DRY_RUN=1")
    rails.add_argument("--confirm", choices=("mainnet", "always"), default=default,
                       help="always: a human approves every change, testnet too; also $BINANCE_SPOT_MCP_CONFIRM")
    rails.add_argument("--trading", choices=("on", "off"), default=default,
                       help="off: refuse every change but cancels; also $BINANCE_SPOT_MCP_TRADING")


POLICY_FLAGS = ("max_order_value", "max_daily_value", "allowed_symbols", "denied_symbols", "dry_run", "confirm")


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
    from binance_spot_mcp.transport.http import HttpOptions

    options = HttpOptions(
        **{k: given[k] for k in ("host", "port", "path", "allow_remote") if k in given},
        allowed_hosts=tuple(given.get("allowed_host", ())),
    )
    options.check()
    return options


def _serve_http(runtime: Any, options: Any, configured_token: str | None) -> int:
    from binance_spot_mcp.transport import http as http_transport

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


def _journal_command(args: argparse.Namespace, settings: Settings, redactor: Redactor) -> int:
    if args.n < 1:
        raise CommandError("-n must be at least 1")
    try:
        wanted = JournalFilter(
            account=args.account, symbol=args.symbol,
            since=parse_when(args.since) if args.since else None, until=parse_when(args.until) if args.until else None,
        )
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    journal = Journal(settings.journal_file, redactor=redactor)
    if wanted.active:
        entries = wanted.apply(journal.since(wanted.since or EPOCH))[-args.n :]
    else:
        entries = journal.latest(args.n)
    if args.json:
        _out(redactor, json.dumps(entries, indent=2, ensure_ascii=False))
        return 0
    if not entries:
        _out(redactor, f"no journal entries {'match' if wanted.active else 'yet'} ({settings.journal_file})")
        return 0
    for entry in entries:
        _out(redactor, journal_line(entry))
    return 0


def _switch_command(args: argparse.Namespace, settings: Settings, redactor: Redactor) -> int:
    from binance_spot_mcp.guard import killswitch

    try:
        if args.command == "halt":
            before = killswitch.halt_note(settings)
            if before is not None:  # a second halt says what it replaces, never silently
                was = f" since {before['halted_at']}" if before.get("halted_at") else ""
                why = f" (reason: {before['reason']})" if before.get("reason") else " (no reason given)"
                _out(redactor, f"Trading was already halted{was}{why}; the halt file now holds this halt's time and reason.")
            path = killswitch.halt(settings, args.reason)
            _out(redactor, f"Trading halted: {path} exists. Every server sharing it refuses changes (cancels still pass).")
            _out(redactor, "Undo with: binance-spot-mcp resume")
            return 0
        removed = killswitch.resume(settings)
    except ConfigError as exc:
        sys.stderr.write(f"binance-spot-mcp: {redactor.redact(exc.message)}\n")
        return 1
    path = killswitch.halt_path(settings)
    _out(redactor, f"Trading resumed: removed {path}." if removed else f"Trading was not halted ({path} does not exist).")
    if settings.trading_off:
        _out(redactor, f"Note: this configuration still turns trading off ({settings.trading_off}).")
    return 0


def _doctor_command(args: argparse.Namespace, settings: Settings, redactor: Redactor) -> int:
    from binance_spot_mcp.cli import doctor
    from binance_spot_mcp.cli.doctor_report import render_json, render_text

    try:
        report = anyio.run(lambda: doctor.diagnose(settings, redactor, account=args.account, offline=args.offline))
    except doctor.UnknownAccount as exc:
        sys.stderr.write(f"binance-spot-mcp: {redactor.redact(exc.message)}\n")
        return 2
    if args.json:
        _out(redactor, render_json(report))
    else:
        for line in render_text(report):
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
            allow_chat_confirm=True if args.allow_chat_confirm else None,
            insecure_permissions=args.insecure_permissions,
            policy={name: getattr(args, name, None) for name in POLICY_FLAGS},
            trading=getattr(args, "trading", None),
        )
        configure_logging(args.log_level or settings.log_level, redactor, plain=args.command not in (None, "serve"))
    except ConfigError as exc:
        sys.stderr.write(f"binance-spot-mcp: {redactor.redact(exc.message)}\n")
        return 2
    if args.command == "doctor":
        return _doctor_command(args, settings, redactor)
    if args.command in {"halt", "resume"}:
        return _switch_command(args, settings, redactor)
    if args.command == "export":
        return export_cli.export_command(args, settings, redactor)
    if args.command in {"accounts", "journal"}:
        try:
            if args.command == "accounts":
                return accounts_command(args, settings, redactor)
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
    from binance_spot_mcp.server import Runtime
    from binance_spot_mcp.server.tool_list import offered_tools

    try:
        selection = Selection(settings.toolsets, settings.read_only)
        offered = offered_tools(catalog, selection)
    except (ConfigError, CatalogError) as exc:
        sys.stderr.write(f"binance-spot-mcp: {redactor.redact(exc.message)}\n")
        return 2
    if args.command == "tools":
        print_tools(catalog, offered, as_json=args.json, sizes=args.sizes)
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
        from binance_spot_mcp.transport.stdio import serve_stdio

        anyio.run(serve_stdio, runtime)
    except KeyboardInterrupt:
        return 130
    return 0
