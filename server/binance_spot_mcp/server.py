"""MCP wiring: tools from the catalog, one call handler, nothing endpoint-specific.

``tools/call`` runs the same pipeline for every tool:
catalog lookup -> argument validation -> account choice -> policy -> sign and send -> result.
Every failure becomes an ``isError`` result; only an unknown tool is a protocol error.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import httpx
from mcp.server import Server, ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp.types import (
    CallToolRequestParams,
    CallToolResult,
    ListToolsResult,
    PaginatedRequestParams,
    Tool,
    ToolAnnotations,
)

from binance_spot_mcp import __version__
from binance_spot_mcp.accounts import AccountStore, market_data_source
from binance_spot_mcp.catalog import Catalog, Endpoint, load_catalog
from binance_spot_mcp.client import BinanceClient
from binance_spot_mcp.confirm import check_allowed
from binance_spot_mcp.config import Settings
from binance_spot_mcp.errors import BinanceSpotError
from binance_spot_mcp.redact import Redactor
from binance_spot_mcp.results import failure, success
from binance_spot_mcp.schema import prepare_arguments, tool_schema

logger = logging.getLogger(__name__)

SERVER_NAME = "binance-spot-mcp"
INVALID_PARAMS = -32602
INSTRUCTIONS = (
    "Binance Spot REST API as tools. Public market-data tools need no account. Signed tools use "
    "the account named in 'account', else 'main', else the only one; if that is ambiguous, ask the "
    "user. Decimals are strings. Never show API keys or secrets. State changes on mainnet "
    "accounts need the human's typed CONFIRM. See the binance-spot skill (SKILL.md) for details."
)


def build_tool(endpoint: Endpoint) -> Tool:
    """One MCP tool, derived entirely from its catalog entry."""
    read_only = not endpoint.changes_state
    return Tool(
        name=endpoint.tool,
        title=f"{endpoint.method} {endpoint.path}",
        description=endpoint.description,
        input_schema=tool_schema(endpoint),
        annotations=ToolAnnotations(
            read_only_hint=read_only,
            destructive_hint=endpoint.destructive,
            idempotent_hint=read_only,
            open_world_hint=True,
        ),
    )


def build_tools(catalog: Catalog) -> list[Tool]:
    return [build_tool(e) for e in catalog.endpoints]


@dataclass
class Runtime:
    """Everything a running server shares across calls."""

    settings: Settings
    catalog: Catalog = field(default_factory=load_catalog)
    redactor: Redactor = field(default_factory=Redactor)
    transport: httpx.AsyncBaseTransport | None = None
    accounts: AccountStore = field(init=False)
    client: BinanceClient = field(init=False)
    tools: list[Tool] = field(init=False)

    def __post_init__(self) -> None:
        self.accounts = AccountStore(self.settings, self.redactor)
        self.client = BinanceClient(
            skill_version=self.catalog.version, timeout_s=self.settings.http_timeout_s, transport=self.transport
        )
        self.tools = build_tools(self.catalog)

    async def aclose(self) -> None:
        await self.client.aclose()

    async def call(self, name: str, arguments: dict[str, Any] | None) -> CallToolResult:
        """Run one tool call to a result. Raises only for an unknown tool."""
        endpoint = self.catalog.get(name)
        if endpoint is None:
            raise MCPError(code=INVALID_PARAMS, message=f"Unknown tool: {name[:80]}")
        try:
            prepared = prepare_arguments(endpoint, arguments)
            if endpoint.signed:
                account = self.accounts.resolve(prepared.account)
                base_url = account.base_url
            else:
                account = None
                source = market_data_source(self.accounts, account=prepared.account, environment=prepared.environment)
                base_url = source.base_url
            check_allowed(endpoint, account)
            reply = await self.client.call(endpoint, prepared.params, base_url=base_url, account=account)
            return success(reply.data, redactor=self.redactor, max_chars=self.settings.max_result_chars)
        except BinanceSpotError as exc:
            logger.info("%s failed: %s", name, exc.message)
            return failure(exc, redactor=self.redactor)
        except Exception as exc:  # noqa: BLE001 - the boundary: never let a raw exception out
            logger.exception("internal error in %s", name)
            error = BinanceSpotError(f"internal error: {type(exc).__name__}", hint="This is a bug; please report it.")
            return failure(error, redactor=self.redactor)


def build_server(runtime: Runtime) -> Server:
    async def list_tools(ctx: ServerRequestContext, params: PaginatedRequestParams | None) -> ListToolsResult:
        return ListToolsResult(tools=runtime.tools)

    async def call_tool(ctx: ServerRequestContext, params: CallToolRequestParams) -> CallToolResult:
        return await runtime.call(params.name, params.arguments)

    return Server(
        SERVER_NAME,
        version=__version__,
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )
