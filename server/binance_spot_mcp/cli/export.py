"""``binance-spot-mcp export trades``: the account's trade history as CSV or JSON Lines.

The history is synced into the local cache first (``myTrades`` by ``fromId``, within a share of
the request-weight budget, like ``get_portfolio``), so a second export, or one that was stopped,
only fetches what is new. A progress bar (``rich``) shows the sync on a terminal (stderr); the
file is written only once everything is in hand.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import anyio

from binance_spot_mcp.config import Settings
from binance_spot_mcp.errors import BinanceSpotError
from binance_spot_mcp.policy import is_symbol
from binance_spot_mcp.portfolio.export import FORMATS, write
from binance_spot_mcp.portfolio.tool import parse_time
from binance_spot_mcp.redact import Redactor


class ExportError(Exception):
    """A usage error of ``export trades`` (the message is safe to print)."""


def add_parser(commands: Any) -> argparse.ArgumentParser:
    export = commands.add_parser("export", help="export the account's trade history (export trades)")
    what = export.add_subparsers(dest="export_command", metavar="{trades}")
    trades = what.add_parser(
        "trades",
        help="every trade of an account as CSV or JSON Lines (synced into the local cache first)",
        description="Columns: UTC time, symbol, base, quote, side, price, quantity, quote quantity, fee, "
        "fee asset, order id, trade id, maker/taker. Resumable: what is cached is not fetched again.",
    )
    trades.add_argument("--account", help="account name (default: main, else the only one)")
    trades.add_argument("--since", help="only trades from this UTC date or time on, e.g. 2026-01-01")
    trades.add_argument("--symbols", help="only these symbols, comma-separated (default: every candidate)")
    trades.add_argument("--format", choices=FORMATS, default="csv", help="csv (default) or jsonl")
    trades.add_argument("-o", "--output", metavar="FILE", help="write here (default: stdout)")
    trades.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    return trades


def _symbols(raw: str | None) -> list[str]:
    if not raw:
        return []
    names = [s.strip() for s in raw.split(",") if s.strip()]
    bad = [s for s in names if not is_symbol(s)]
    if bad:
        raise ExportError(f"--symbols: {bad[0][:24]!r} is not a symbol (e.g. BTCUSDT,ETHBTC)")
    return names


def _bar(enabled: bool) -> tuple[AbstractContextManager[Any], Any]:
    """A rich progress bar on stderr when it is a terminal (or forced), else nothing."""
    if not enabled:
        return nullcontext(), None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=Console(file=sys.stderr), transient=False,
    )
    return bar, bar


def export_command(args: argparse.Namespace, settings: Settings, redactor: Redactor, *, force_bar: bool = False) -> int:
    """Run ``export trades``; returns the exit code (1 with a message on stderr when it fails)."""
    from binance_spot_mcp.server import Runtime

    if getattr(args, "export_command", None) != "trades":
        sys.stderr.write("binance-spot-mcp: say what to export: binance-spot-mcp export trades --help\n")
        return 2
    try:
        symbols = _symbols(args.symbols)
        since_ms = parse_time(args.since, "--since")
    except (ExportError, BinanceSpotError) as exc:
        sys.stderr.write(f"binance-spot-mcp: {redactor.redact(getattr(exc, 'message', str(exc)))}\n")
        return 2
    show_bar = not args.no_progress and (force_bar or sys.stderr.isatty())
    context, bar = _bar(show_bar)

    async def run() -> int:
        runtime = Runtime(settings=settings, redactor=redactor)
        try:
            await runtime.accounts.refresh()
            task = bar.add_task("syncing trades", total=None) if bar is not None else None

            async def progress(done: float, total: float | None, message: str) -> None:
                if bar is not None:
                    bar.update(task, completed=done, total=total, description=redactor.redact(message))

            account, fills = await runtime.portfolio_tools.history(
                args.account, symbols=symbols, since_ms=since_ms, progress=progress
            )
        finally:
            await runtime.aclose()
        count = _write(fills, args.output, args.format)
        where = args.output or "stdout"
        sys.stderr.write(redactor.redact(f"binance-spot-mcp: {count} trade(s) of {account.name} written to {where}\n"))
        return 0

    try:
        with context:
            return anyio.run(run)
    except BinanceSpotError as exc:
        sys.stderr.write(f"binance-spot-mcp: {redactor.redact(exc.message)}\n")
        if exc.hint:
            sys.stderr.write(f"hint: {redactor.redact(exc.hint)}\n")
        return 1
    except OSError as exc:
        sys.stderr.write(f"binance-spot-mcp: cannot write {args.output}: {exc.strerror or exc}\n")
        return 1


def _write(fills: list[Any], output: str | None, fmt: str) -> int:
    if output is None:
        return write(fills, sys.stdout, fmt)
    path = Path(output).expanduser()
    partial = path.with_name(path.name + ".partial")
    with partial.open("w", encoding="utf-8", newline="") as handle:  # whole or nothing
        count = write(fills, handle, fmt)
    partial.replace(path)
    return count
