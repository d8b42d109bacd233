"""The stream floor for this SDK: a minimal mcp 2.x low-level server that relays one WebSocket stream.

``python bench/relay_server.py WS_URL`` opens one WebSocket connection to ``WS_URL`` (a market
stream of the fake) at start-up and serves one tool over stdio: ``next_frame`` waits for the next
frame on that connection and returns its text. No buffer, no cursor, no redaction, no result cap:
the least any SDK server can do to hand a streamed event to a client. Section 7 of
``bench/run.py`` times it exactly like ``read_stream``, so the gap between the two is what
binance-spot-mcp adds over the floor, and the floor's own added latency is what this machine, the
SDK and one extra process cost whoever writes the server.
"""

from __future__ import annotations

import sys
from typing import Any

import anyio
from mcp.server import Server, ServerRequestContext
from mcp.server.stdio import stdio_server
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolRequestParams, CallToolResult, ListToolsResult, PaginatedRequestParams, TextContent, Tool
from websockets.asyncio.client import ClientConnection, connect

NEXT_FRAME = Tool(
    name="next_frame",
    description="Wait for the next frame of the relayed stream and return it.",
    input_schema={"type": "object", "properties": {}, "additionalProperties": False},
)

connection: dict[str, ClientConnection] = {}


async def on_list_tools(ctx: ServerRequestContext, params: PaginatedRequestParams | None) -> ListToolsResult:
    return ListToolsResult(tools=[NEXT_FRAME])


async def on_call_tool(ctx: ServerRequestContext, params: CallToolRequestParams) -> CallToolResult:
    if params.name != NEXT_FRAME.name:
        raise MCPError(code=-32602, message=f"Unknown tool: {params.name}")
    frame: Any = await connection["ws"].recv()
    return CallToolResult(content=[TextContent(type="text", text=str(frame))])


server = Server("bench-relay", version="0.0.1", on_list_tools=on_list_tools, on_call_tool=on_call_tool)


async def main(url: str) -> None:
    async with connect(url) as ws:
        connection["ws"] = ws
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())


if __name__ == "__main__":
    anyio.run(main, sys.argv[1])
