"""Runtime.call paths the mutation run of ``server.runtime`` left unpinned: a direct call with no
asker, a changed accounts file read again off the event loop before an endpoint or account tool, the unknown tool's name
cut at 80 characters."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from binance_spot_mcp.server import Runtime
from mcp.shared.exceptions import MCPError

from tests.e2e_support import memory_client, result_json

pytestmark = pytest.mark.anyio


async def test_a_direct_call_without_an_asker_still_runs(world):
    runtimes: list[Runtime] = []
    async with memory_client(world.tools_file, "legacy", world.base_url, on_runtime=runtimes.append):
        price = await runtimes[0].call("get_ticker_price", {"symbol": "BTCUSDT"})
    assert not price.is_error and result_json(price)["symbol"] == "BTCUSDT"


def _record_loads(runtime: Runtime, threads: list[int]) -> None:
    load = runtime.accounts._load

    def recording(stamp: Any) -> Any:
        threads.append(threading.get_ident())
        return load(stamp)

    runtime.accounts._load = recording  # type: ignore[method-assign]


@pytest.mark.parametrize("tool, arguments", [
    pytest.param("get_account", {"account": "renamed"}, id="endpoint-tool"),
    pytest.param("list_accounts", {}, id="account-tool"),
])
async def test_a_changed_accounts_file_is_read_again_off_the_event_loop(world, tool, arguments):
    threads: list[int] = []
    async with memory_client(world.tools_file, "legacy", world.base_url,
                             on_runtime=lambda runtime: _record_loads(runtime, threads)) as client:
        assert not (await client.call_tool("list_accounts", {})).is_error
        world.tools_file.write_text(world.tools_file.read_text().replace("### main", "### renamed"))
        del threads[:]
        result = await client.call_tool(tool, arguments)
    assert not result.is_error, result
    assert "renamed" in str(result_json(result)) or tool == "get_account"
    loop_thread = threading.get_ident()
    assert threads and loop_thread not in threads  # TOOLS.md and key files never read on the event loop


async def test_an_unknown_tools_name_is_cut_at_80_characters(world):
    name = "x" * 79 + "yz"
    async with memory_client(world.tools_file, "legacy", world.base_url) as client:
        with pytest.raises(MCPError) as unknown:
            await client.call_tool(name, {})
    assert str(unknown.value) == "Unknown tool: " + "x" * 79 + "y"
