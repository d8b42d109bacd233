"""A WebSocket that cannot be reached is reported as a connection failure naming the host and the
reason (refused, no such host), never as a Binance rejection: nothing reached Binance.

Driven through the real server in process: ``subscribe_stream`` (market streams) and
``wait_for_order`` (the user data stream on the WebSocket API, which then polls REST)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import anyio
import pytest

from binance_spot_mcp.streams.connection import ReconnectingSocket
from tests.e2e_support import memory_client, result_json

pytestmark = pytest.mark.anyio
BOUND_S = 30


@pytest.fixture
def refusing_port() -> Iterator[int]:
    """A loopback port that refuses connections: bound, never listening, held for the test."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def _error_text(result) -> str:  # noqa: ANN001 - a CallToolResult
    assert result.is_error, result
    return result.content[0].text


async def test_an_unreachable_stream_host_is_a_connection_failure(world, refusing_port: int):
    url = f"ws://127.0.0.1:{refusing_port}"
    env = {f"BINANCE_SPOT_MCP_{name}_STREAM_URL": url for name in ("MAINNET", "TESTNET", "DEMO")}
    with anyio.fail_after(BOUND_S):
        async with memory_client(world.tools_file, "auto", base_url=world.base_url, extra_env=env) as client:
            text = _error_text(await client.call_tool("subscribe_stream", {"streams": ["btcusdt@trade"],
                                                                           "environment": "testnet"}))
    payload = json.loads(text)
    assert "Binance rejected" not in text and "HTTP 0" not in text
    assert payload["error"] == "transport_error" and payload["request_may_have_reached_binance"] is False
    assert f"could not connect to 127.0.0.1:{refusing_port}" in payload["message"]
    assert "refused" in payload["message"].lower() or "connect call failed" in payload["message"].lower()


async def test_no_such_host_names_the_host_and_the_reason(world, monkeypatch):
    """Offline, Binance's own host does not resolve: the answer says so (the DNS failure is
    simulated; nothing tries the network)."""

    def no_dns(*_args, **_kwargs):  # noqa: ANN002, ANN003, ANN202
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr("websockets.asyncio.client.connect", no_dns)
    with anyio.fail_after(BOUND_S):
        async with memory_client(world.tools_file, "auto", base_url=world.base_url) as client:
            text = _error_text(await client.call_tool("subscribe_stream", {"streams": ["btcusdt@trade"],
                                                                           "environment": "testnet"}))
            order = result_json(await client.call_tool("place_order", {
                "account": "main", "symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"}))
            waited = result_json(await client.call_tool("wait_for_order", {
                "account": "main", "symbol": "BTCUSDT", "orderId": order["orderId"], "wait_seconds": 2}))
    payload = json.loads(text)
    assert payload["message"].startswith("could not connect to stream.testnet.binance.vision")
    assert "Name or service not known" in payload["message"] and "Binance rejected" not in text
    # the order is still followed by REST, and the answer says why the stream was not used
    assert waited["reached"] is True and waited["source"] == "get_order"
    problem = waited["stream_unavailable"]
    assert problem.startswith("could not connect to ws-api.testnet.binance.vision: gaierror: Name or service not known"), problem
    assert "Binance rejected" not in problem


def test_the_reason_is_the_error_type_and_the_system_s_words():
    reason = ReconnectingSocket.failure_reason
    assert reason(socket.gaierror(socket.EAI_NONAME, "Name or service not known")) == "gaierror: Name or service not known"
    assert reason(ConnectionRefusedError(111, "Connection refused")) == "ConnectionRefusedError: Connection refused"
    assert reason(TimeoutError()) == "TimeoutError"
    assert reason(ValueError("apiKey=secret")) == "ValueError"  # other texts may quote a request: never used
