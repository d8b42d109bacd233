"""Rules of the streams wing that issue 22 found unpinned.

* the user data stream sends a key and a signature only to Binance's own WebSocket hosts, over
  wss://, or to a loopback address: ``UserStreams`` refuses any other URL before it connects;
* a stream tool's error passes the server's redactor (a registered secret that a caller passes in
  an argument the error repeats comes back masked).
"""

from __future__ import annotations

from typing import Any

import pytest

from binance_spot_mcp.errors import PolicyError
from binance_spot_mcp.server import Runtime
from binance_spot_mcp.streams.user import UserStreams
from tests.e2e_support import World, memory_client, random_token, stream_environ

pytestmark = pytest.mark.anyio

REFUSED = [
    "wss://evil.example/ws-api/v3",
    "wss://ws-api.binance.com.evil.example/ws-api/v3",
    "wss://evil.example.ws-api.binance.com.attacker.net/ws-api/v3",
    "ws://ws-api.binance.com/ws-api/v3",  # Binance's host, but in clear text
    "ws://10.0.0.7:9443/ws-api/v3",
    "wss://user:pw@ws-api.binance.com/ws-api/v3",
    "https://ws-api.binance.com/ws-api/v3",
]
ACCEPTED = ["wss://ws-api.binance.com:443/ws-api/v3", "wss://ws-api.testnet.binance.vision/ws-api/v3",
            "ws://127.0.0.1:1/ws-api/v3", "ws://[::1]:1/ws-api/v3"]


async def _never(_: Any) -> None:
    raise AssertionError("no clock work expected")


@pytest.mark.parametrize("url", REFUSED, ids=[f"refused-{i}" for i in range(len(REFUSED))])
async def test_keys_are_never_sent_to_a_websocket_url_outside_binance_or_loopback(url: str) -> None:
    with pytest.raises(PolicyError) as refused:
        UserStreams(url, now_ms=lambda _: 0, resync_clock=_never)
    assert "refusing to send keys" in refused.value.message


@pytest.mark.parametrize("url", ACCEPTED, ids=[f"accepted-{i}" for i in range(len(ACCEPTED))])
async def test_binance_and_loopback_websocket_urls_are_accepted(url: str) -> None:
    user = UserStreams(url, now_ms=lambda _: 0, resync_clock=_never)
    await user.aclose()


SECRET = "Zx" + random_token(30)


def _register(runtime: Runtime) -> None:
    runtime.redactor.add_secret(SECRET)


@pytest.mark.parametrize(("tool", "args"), [
    ("subscribe_stream", {"streams": [SECRET], "environment": "testnet"}),
    ("subscribe_stream", {"streams": [SECRET], "account": "main"}),
    ("read_stream", {"subscription": SECRET}),
    ("unsubscribe_stream", {"subscription": SECRET}),
    ("wait_for_order", {"symbol": "BTCUSDT", "orderId": 1, "account": SECRET}),
], ids=["market-name", "account-event", "read", "unsubscribe", "wait-account"])
async def test_stream_tool_errors_pass_the_redactor(world: World, tool: str, args: dict[str, Any]) -> None:
    env = stream_environ(world.fake)
    async with memory_client(world.tools_file, "legacy", base_url=world.base_url, extra_env=env,
                             on_runtime=_register) as client:
        result = await client.call_tool(tool, args)
    text = result.content[0].text
    assert result.is_error and "***" in text, text
    assert SECRET not in text and SECRET[:20] not in text
