"""stdio: when stdin closes, the requests already read are still answered before the server exits."""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import pytest
from mcp.shared._context_streams import create_context_streams
from mcp.shared.message import SessionMessage
from mcp_types import JSONRPCNotification, JSONRPCRequest, JSONRPCResponse

from binance_spot_mcp.config import load_settings
from binance_spot_mcp.server import Runtime, build_server
from binance_spot_mcp.transport.stdio import Ledger, draining
from tests.e2e_support import loopback_environ

pytestmark = pytest.mark.anyio

BOUND_S = 30.0


class EofSignal:
    """A read stream that sets ``seen`` when its end of input is reached (what the server reads)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.seen = anyio.Event()

    @property
    def last_context(self) -> Any:
        return self.inner.last_context

    async def receive(self) -> Any:
        try:
            return await self.inner.receive()
        except anyio.EndOfStream:
            self.seen.set()
            raise

    async def aclose(self) -> None:
        await self.inner.aclose()

    def __aiter__(self) -> EofSignal:
        return self

    async def __anext__(self) -> Any:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> EofSignal:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _frames() -> list[SessionMessage]:
    init = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}
    return [
        SessionMessage(JSONRPCRequest(jsonrpc="2.0", id=1, method="initialize", params=init)),
        SessionMessage(JSONRPCNotification(jsonrpc="2.0", method="notifications/initialized")),
        SessionMessage(JSONRPCRequest(jsonrpc="2.0", id=2, method="tools/call", params={"name": "ping", "arguments": {}})),
    ]


async def _serve_piped(tmp_path, *, drain: bool) -> dict[Any, Any]:
    """Write three frames, close input, and let ``ping`` answer only once the server has seen EOF."""
    client_send, server_read = create_context_streams[SessionMessage | Exception](16)
    server_write, client_read = create_context_streams[SessionMessage](16)
    eof = EofSignal(server_read)

    async def exchange(request: httpx.Request) -> httpx.Response:
        await eof.seen.wait()  # the exchange answers only after stdin has closed
        return httpx.Response(200, json={})

    settings = load_settings(tools_file=str(tmp_path / "TOOLS.md"), environ=loopback_environ("http://127.0.0.1:9", tmp_path))
    runtime = Runtime(settings=settings, transport=httpx.MockTransport(exchange))
    server = build_server(runtime)
    reads, writes = draining(eof, server_write) if drain else (eof, server_write)
    answers: dict[Any, Any] = {}
    with anyio.fail_after(BOUND_S):
        async with anyio.create_task_group() as tg:
            tg.start_soon(server.run, reads, writes, server.create_initialization_options())
            for frame in _frames():
                await client_send.send(frame)
            await client_send.aclose()  # stdin closes right after the requests
            async for item in client_read:
                if isinstance(item.message, JSONRPCResponse):
                    answers[item.message.id] = item.message.result
    await runtime.aclose()
    return answers


async def test_requests_read_before_stdin_closed_are_answered(tmp_path):
    answers = await _serve_piped(tmp_path, drain=True)
    assert set(answers) == {1, 2}
    assert answers[2]["isError"] is False and answers[2]["content"][0]["text"] == "{}"


async def test_without_draining_the_sdk_drops_them(tmp_path):
    """What the draining is for: the bare dispatcher cancels the unanswered call at EOF."""
    answers = await _serve_piped(tmp_path, drain=False)
    assert set(answers) == {1}


def test_ledger_settles_when_answered_or_only_waiting_on_the_client():
    ledger = Ledger()
    assert ledger.settled
    ledger.inbound(JSONRPCRequest(jsonrpc="2.0", id=7, method="tools/call"))
    assert not ledger.settled
    ledger.outbound(JSONRPCRequest(jsonrpc="2.0", id=0, method="elicitation/create"))
    assert ledger.settled  # the handler waits on a client that has gone: nothing more will come
    ledger.inbound(JSONRPCResponse(jsonrpc="2.0", id=0, result={}))
    assert not ledger.settled
    ledger.outbound(JSONRPCResponse(jsonrpc="2.0", id=7, result={}))
    assert ledger.settled
    ledger.inbound(JSONRPCRequest(jsonrpc="2.0", id="a", method="tools/call"))
    ledger.inbound(JSONRPCNotification(jsonrpc="2.0", method="notifications/cancelled", params={"requestId": "a"}))
    assert ledger.settled  # a cancelled request is never answered


async def test_the_drain_gives_up_after_its_bound():
    ledger = Ledger()
    ledger.inbound(JSONRPCRequest(jsonrpc="2.0", id=1, method="tools/call"))
    with anyio.fail_after(BOUND_S):
        await ledger.drained(0.0)  # returns (and logs) although request 1 is still unanswered
    assert ledger.unanswered == {"1"}
