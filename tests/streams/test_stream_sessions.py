"""Stream subscriptions belong to the MCP session that opened them (finding 11 of issue 22).

Over streamable HTTP, a second session cannot list, read or close the first one's subscriptions
(market data or account events), and learns nothing of their ids from the errors; ids are
random, not a sequence another session could walk. Over stdio there is one session.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from binance_spot_mcp.streams.buffers import MAX_TOTAL_BYTES
from tests.e2e_support import World, result_json, stream_environ
from tests.transport.test_http import TOKEN, http_client, serving

pytestmark = pytest.mark.anyio


async def _ok(client: Any, tool: str, args: dict[str, Any]) -> Any:
    result = await client.call_tool(tool, args)
    assert not result.is_error, result.content[0].text
    return result_json(result)


async def test_a_session_sees_only_its_own_subscriptions(world: World) -> None:
    with serving(world, extra_env=stream_environ(world.fake)) as served:
        async with http_client(served.url, TOKEN, "legacy") as first, http_client(served.url, TOKEN, "legacy") as second:
            market = await _ok(first, "subscribe_stream", {"streams": ["btcusdt@trade"], "environment": "testnet"})
            account = await _ok(first, "subscribe_stream", {"account": "main", "streams": ["executionReport"]})
            ids = [market["subscription"], account["subscription"]]
            own = await _ok(second, "subscribe_stream", {"streams": ["ethusdt@trade"], "environment": "testnet"})

            listed = await _ok(second, "list_streams", {})
            assert [s["subscription"] for s in listed["subscriptions"]] == [own["subscription"]]
            assert not any(sid in str(listed) for sid in ids) and "main" not in str(listed["connections"])
            for sid in ids:
                for tool in ("read_stream", "unsubscribe_stream"):
                    refused = await second.call_tool(tool, {"subscription": sid})
                    text = refused.content[0].text
                    assert refused.is_error and "no open subscription" in text, text
                    assert not any(other in text for other in ids if other != sid)

            # the owner still has both, untouched
            mine = await _ok(first, "list_streams", {})
            assert sorted(s["subscription"] for s in mine["subscriptions"]) == sorted(ids)
            assert (await _ok(first, "read_stream", {"subscription": ids[0]}))["subscription"] == ids[0]
            assert (await _ok(first, "unsubscribe_stream", {"subscription": ids[1]}))["unsubscribed"] == ids[1]
            # a closed id is not explained to another session either
            closed = await second.call_tool("read_stream", {"subscription": ids[1]})
            assert closed.is_error and "unsubscribed" not in closed.content[0].text
            async with http_client(served.url, TOKEN, "auto") as sessionless:
                assert (await _ok(sessionless, "list_streams", {}))["subscriptions"] == []
                refused = await sessionless.call_tool("read_stream", {"subscription": ids[0]})
                assert refused.is_error and ids[0] not in str((await _ok(sessionless, "list_streams", {})))
                theirs = await _ok(sessionless, "subscribe_stream", {"streams": ["bnbusdt@trade"], "environment": "testnet"})
                assert theirs["subscription"] not in str(await _ok(first, "list_streams", {}))
                assert (await first.call_tool("read_stream", {"subscription": theirs["subscription"]})).is_error
        hub = served.runtime.stream_tools.hub
        assert hub.budget.limit == MAX_TOTAL_BYTES


async def test_subscription_ids_are_random_not_a_sequence(world: World) -> None:
    with serving(world, extra_env=stream_environ(world.fake)) as served:
        async with http_client(served.url, TOKEN, "legacy") as client:
            ids = [(await _ok(client, "subscribe_stream", {"streams": [f"{s}@trade"], "environment": "testnet"}))
                   ["subscription"] for s in ("btcusdt", "ethusdt", "bnbusdt")]
    assert len(set(ids)) == 3
    for sid in ids:
        assert re.fullmatch(r"s_[A-Za-z0-9_-]{16,}", sid), sid
    _ = served
