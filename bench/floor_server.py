"""The floor for this SDK: a minimal mcp 2.x low-level server with one tool, over stdio.

``bench/run.py`` starts it exactly like binance-spot-mcp (same interpreter, same client, same
stdio transport), so whatever it costs - interpreter start, importing mcp, the handshake, one
JSON-RPC round trip - is what any server built on this SDK pays. Nothing here does I/O.
"""

from __future__ import annotations

import anyio
from mcp.server import Server, ServerRequestContext
from mcp.server.stdio import stdio_server
from mcp.shared.exceptions import MCPError
from mcp.types import (
    CallToolRequestParams,
    CallToolResult,
    ListToolsResult,
    PaginatedRequestParams,
    TextContent,
    Tool,
    ToolAnnotations,
)

ECHO = Tool(
    name="echo",
    title="Echo",
    description="Return the given text unchanged.",
    input_schema={
        "type": "object",
        "properties": {"text": {"type": "string", "description": "Text to return."}},
        "required": ["text"],
        "additionalProperties": False,
    },
    annotations=ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False),
)


async def on_list_tools(ctx: ServerRequestContext, params: PaginatedRequestParams | None) -> ListToolsResult:
    return ListToolsResult(tools=[ECHO])


async def on_call_tool(ctx: ServerRequestContext, params: CallToolRequestParams) -> CallToolResult:
    if params.name != ECHO.name:
        raise MCPError(code=-32602, message=f"Unknown tool: {params.name}")
    text = str((params.arguments or {}).get("text", ""))
    return CallToolResult(content=[TextContent(type="text", text=text)])


server = Server("bench-floor", version="0.0.1", on_list_tools=on_list_tools, on_call_tool=on_call_tool)


async def main() -> None:
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


if __name__ == "__main__":
    anyio.run(main)
