"""Command line: ``binance-spot-mcp [serve]`` runs the MCP server over stdio;
``binance-spot-mcp tools [--json]`` prints the endpoint catalog.

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
from binance_spot_mcp.catalog import Catalog, Endpoint, load_catalog
from binance_spot_mcp.config import load_settings
from binance_spot_mcp.errors import ConfigError
from binance_spot_mcp.redact import RedactingFilter, Redactor
from binance_spot_mcp.schema import plain_decimal

logger = logging.getLogger(__name__)


def configure_logging(level: str, redactor: Redactor) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(redactor))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level.upper(), logging.WARNING))


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
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="run the MCP server over stdio (the default)")
    tools = commands.add_parser("tools", help="print the tool catalog built from SKILL.md")
    tools.add_argument("--json", action="store_true", help="machine-readable JSON")
    return parser


def catalog_json(catalog: Catalog) -> list[dict[str, Any]]:
    """The catalog as plain data: what ``tools --json`` prints."""

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
            "method": e.method,
            "path": e.path,
            "security": e.security.value,
            "signed": e.signed,
            "changes_state": e.changes_state,
            "description": e.description,
            "parameters": [param(e, n) for n in e.params],
            "rules": [r.describe() for r in e.rules],
        }
        for e in catalog.endpoints
    ]


def _print_tools(catalog: Catalog, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(catalog_json(catalog), indent=2) + "\n")
        return
    width = max(len(e.tool) for e in catalog.endpoints)
    for e in catalog.endpoints:
        sys.stdout.write(f"{e.tool:<{width}}  {e.method:<6} {e.path:<36} {e.security.value}\n")
    sys.stdout.write(f"{len(catalog.endpoints)} endpoints (SKILL.md {catalog.version})\n")


async def _serve_stdio(runtime: Any) -> None:
    from mcp.server.stdio import stdio_server

    from binance_spot_mcp.server import build_server

    server = build_server(runtime)
    try:
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())
    finally:
        await runtime.aclose()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    redactor = Redactor()
    try:
        settings = load_settings(tools_file=args.tools_file)
        configure_logging(args.log_level or settings.log_level, redactor)
        catalog = load_catalog()
    except ConfigError as exc:
        sys.stderr.write(f"binance-spot-mcp: {redactor.redact(exc.message)}\n")
        return 2
    if args.command == "tools":
        _print_tools(catalog, args.json)
        return 0

    from binance_spot_mcp.server import Runtime

    runtime = Runtime(settings=settings, catalog=catalog, redactor=redactor)
    current = runtime.accounts.current()
    logger.info(
        "serving %d tools; %d account(s) from %s", len(runtime.tools), len(current.accounts), settings.tools_file
    )
    try:
        anyio.run(_serve_stdio, runtime)
    except KeyboardInterrupt:
        return 130
    return 0
