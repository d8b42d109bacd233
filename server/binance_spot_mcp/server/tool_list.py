"""The tool list: one MCP tool per catalog endpoint, derived from its entry, then the server's own
tools (accounts, safety status, streams); which of them a toolset choice offers; what each
toolset costs in characters (``tools --sizes`` and the README table)."""

from __future__ import annotations

from dataclasses import replace

from mcp.types import Tool, ToolAnnotations

from binance_spot_mcp.accounts.tools import CHANGES_STATE as ACCOUNT_TOOLS_CHANGING_STATE
from binance_spot_mcp.accounts.tools import NAMES as ACCOUNT_TOOL_NAMES
from binance_spot_mcp.accounts.tools import TOOLS as ACCOUNT_TOOLS
from binance_spot_mcp.accounts.tools import with_chat_confirm
from binance_spot_mcp.catalog.endpoints import Catalog, Endpoint
from binance_spot_mcp.catalog.schema import tool_schema
from binance_spot_mcp.catalog.toolsets import Selection, SizeRow, check_server_tools, select_tools, size_table
from binance_spot_mcp.guard.safety import SAFETY_STATUS, SAFETY_TOOL
from binance_spot_mcp.portfolio.tool import NAMES as PORTFOLIO_TOOL_NAMES
from binance_spot_mcp.portfolio.tool import PLACEMENTS as PORTFOLIO_PLACEMENTS
from binance_spot_mcp.portfolio.tool import TOOLS as PORTFOLIO_TOOLS
from binance_spot_mcp.streams.tools import NAMES as STREAM_TOOL_NAMES
from binance_spot_mcp.streams.tools import TOOLS as STREAM_TOOLS


def annotations_for(endpoint: Endpoint) -> ToolAnnotations:
    """Hints from the method and path. Spec defaults are left out: openWorldHint is true, and
    destructive/idempotent hints only mean something for tools that are not read-only."""
    if not endpoint.changes_state:
        return ToolAnnotations(read_only_hint=True)
    return ToolAnnotations(read_only_hint=False, destructive_hint=endpoint.destructive)


def build_tool(endpoint: Endpoint, *, chat_confirm: bool = False) -> Tool:
    """One MCP tool, derived entirely from its catalog entry."""
    return Tool(
        name=endpoint.tool,
        title=endpoint.title,
        description=endpoint.description,
        input_schema=tool_schema(endpoint, chat_confirm=chat_confirm),
        annotations=annotations_for(endpoint),
    )


def build_tools(catalog: Catalog, *, chat_confirm: bool = False) -> list[Tool]:
    """The whole tool list: one tool per endpoint, then the server's own tools. ``chat_confirm``
    adds the opt-in chat approval arguments to the state-changing tools."""
    own = [with_chat_confirm(t) for t in SERVER_TOOLS] if chat_confirm else list(SERVER_TOOLS)
    return [build_tool(e, chat_confirm=chat_confirm) for e in catalog.endpoints] + own


def offered_tools(catalog: Catalog, selection: Selection, *, chat_confirm: bool = False) -> list[Tool]:
    """The tools a server with this toolset choice offers (raises ConfigError for unknown toolsets)."""
    catalog = placed(catalog)
    check_server_tools(catalog, SERVER_TOOLS)
    tools = build_tools(catalog, chat_confirm=chat_confirm)
    return select_tools(catalog, tools, selection, changes_state=ACCOUNT_TOOLS_CHANGING_STATE)


def tool_list_sizes(catalog: Catalog) -> list[SizeRow]:
    """What each toolset, read-only mode and the whole list cost (``tools --sizes``, the README table)."""
    return size_table(placed(catalog), build_tools(catalog), changes_state=ACCOUNT_TOOLS_CHANGING_STATE)


def placed(catalog: Catalog) -> Catalog:
    """The catalog with each wing's own placements (``get_portfolio`` in ``account``) added to its
    Toolsets table where SKILL.md does not name them yet (a no-op once it does)."""
    toolsets = dict(catalog.toolsets)
    for tool, name in PORTFOLIO_PLACEMENTS.items():
        if name in toolsets and not any(tool in ts.server_tools for ts in toolsets.values()):
            toolsets[name] = replace(toolsets[name], server_tools=(*toolsets[name].server_tools, tool))
    return replace(catalog, toolsets=toolsets)


SERVER_TOOLS = (*ACCOUNT_TOOLS, SAFETY_TOOL, *STREAM_TOOLS, *PORTFOLIO_TOOLS)
SERVER_TOOL_NAMES = ACCOUNT_TOOL_NAMES | {SAFETY_STATUS} | STREAM_TOOL_NAMES | PORTFOLIO_TOOL_NAMES
