"""``wait_for_order`` reads its symbol by the rule every other tool follows (issue 22, finding 17):
only ASCII letters change case, and what Binance would refuse is refused before any request."""

from __future__ import annotations

import pytest

from tests.e2e_support import World, memory_client, result_json
from tests.streams.test_streams_e2e import _env

pytestmark = pytest.mark.anyio


def _order_reads(world: World) -> list[dict[str, str]]:
    return [dict(r.params or {}) for r in list(world.exchange.requests) if r.path == "/api/v3/order" and r.method == "GET"]


@pytest.mark.parametrize("symbol", ["BTC USDT", "BTC\u202eUSDT", "BTC\u200bUSDT", "BTC\nUSDT", "\x7fBTC"],
                         ids=["space", "bidi", "zero-width", "newline", "del"])
async def test_a_symbol_binance_refuses_is_refused_before_any_request(world: World, symbol: str) -> None:
    async with memory_client(world.tools_file, "legacy", base_url=world.base_url, extra_env=_env(world)) as client:
        result = await client.call_tool("wait_for_order", {"account": "main", "symbol": symbol, "orderId": 1,
                                                           "wait_seconds": 1})
    assert result.is_error
    text = result.content[0].text
    assert "'symbol' is not a Binance symbol" in text
    assert _order_reads(world) == []


async def test_only_ascii_letters_change_case(world: World) -> None:
    """``ß`` is not ``SS``: the look-up names the symbol as given, ASCII letters upper-cased."""
    async with memory_client(world.tools_file, "legacy", base_url=world.base_url, extra_env=_env(world)) as client:
        result = await client.call_tool("wait_for_order", {"account": "main", "symbol": "ßusdt", "orderId": 1,
                                                           "wait_seconds": 1})
    assert result.is_error, result_json(result)
    assert [r.get("symbol") for r in _order_reads(world)] == ["ßUSDT"]
