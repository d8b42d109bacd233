"""Max Daily Value: what the rolling 24-hour total counts (issue 22, item 1 and the unpinned rules).

An order counts unless we know it was not placed: a cancel-replace answered 409 whose new order
was placed, order lists, an outcome that stayed unknown. The window is 24 hours, not since
midnight; a cap is "at most"; orders journaled before the cap existed count at their value; two
daily caps in different assets both hold.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from binance_spot_mcp.guard.daily import counts

from tests.e2e_support import memory_client, result_json
from tests.guard.test_guard_rails import (
    OVER_CAP,
    SMALL_BUY,
    journal,
    refused,
    set_rules,
    with_account,
    writes,
)

pytestmark = pytest.mark.anyio

# A cancel whose order does not exist fails; with ALLOW_FAILURE the new order is placed anyway (HTTP 409).
REPLACE_UNKNOWN = {**SMALL_BUY, "cancelReplaceMode": "ALLOW_FAILURE", "cancelOrderId": 987654321}


async def _spent(client: Any, name: str) -> dict[str, Any]:
    status = result_json(await client.call_tool("get_safety_status", {}))
    return next(a for a in status["accounts"] if a["account"] == name)["today"]


async def test_cancel_replace_answered_409_counts_its_new_order(world):
    with_account(world, "daily", "Max Daily Value: 150 USDT")
    async with memory_client(world.tools_file, "legacy", world.base_url) as client:
        for _ in range(2):
            partial = await client.call_tool("cancel_replace_order", {**REPLACE_UNKNOWN, "account": "daily"})
            body = result_json(partial)
            assert partial.is_error and body["status"] == 409 and body["data"]["newOrderResult"] == "SUCCESS", body
        assert len(world.exchange.orders_placed("BTCUSDT")) == 2  # Binance placed both new orders
        assert await _spent(client, "daily") == {"150 USDT": {"spent_24h": "108", "remaining": "42"}}
        body = refused(await client.call_tool("place_order", {**SMALL_BUY, "account": "daily"}), "max daily value")
        assert body["spent_24h"] == "108"
    outcomes = [e for e in journal(world) if e["phase"] == "outcome" and e.get("status") == 409]
    assert [o["summary"]["newOrderResult"] for o in outcomes] == ["SUCCESS", "SUCCESS"]
    assert outcomes[0]["summary"]["newOrder"]["status"] in ("NEW", "FILLED")


async def test_cancel_replace_that_placed_nothing_does_not_count(world):
    with_account(world, "daily", "Max Daily Value: 150 USDT")
    async with memory_client(world.tools_file, "legacy", world.base_url) as client:
        stopped = await client.call_tool("cancel_replace_order", {**REPLACE_UNKNOWN, "cancelReplaceMode": "STOP_ON_FAILURE",
                                                                  "account": "daily"})
        assert stopped.is_error and result_json(stopped)["status"] == 400
        assert await _spent(client, "daily") == {"150 USDT": {"spent_24h": "0", "remaining": "150"}}


@pytest.mark.parametrize(("outcome", "counted"), [
    pytest.param({"ok": False, "status": 409, "summary": {"code": -2021}}, True, id="409-unread-counts"),
    pytest.param({"ok": False, "status": 409, "summary": {"newOrderResult": "SUCCESS"}}, True, id="409-placed"),
    pytest.param({"ok": False, "status": 409, "summary": {"newOrderResult": "FAILURE"}}, False, id="409-cancel-only"),
    pytest.param({"ok": False, "status": 400, "summary": {"newOrderResult": "NOT_ATTEMPTED"}}, False, id="400-not-tried"),
    pytest.param({"ok": False, "status": 400, "summary": {"code": -1013}}, False, id="400-rejected"),
    pytest.param({"ok": False, "status": None, "summary": {"recovered": "unknown"}}, True, id="unknown-counts"),
    pytest.param({"ok": False, "status": None, "summary": {"recovered": "not placed"}}, False, id="not-placed"),
    pytest.param(None, True, id="in-flight-counts"),
])
def test_an_order_counts_unless_known_not_placed(outcome, counted):
    assert counts({"phase": "intent", "policy": {"value": {"USDT": "1"}}}, outcome) is counted


LISTS = {
    "oco": ("place_order_list_oco", {**OVER_CAP["oco (the larger leg)"][1], "quantity": "0.001"}, "66"),
    "oto": (*OVER_CAP["oto (working + pending)"], "120"),
    "otoco": (*OVER_CAP["otoco"], "120"),
    "opo": (*OVER_CAP["opo (pending takes the working quantity)"], "120"),
}


@pytest.mark.parametrize("kind", list(LISTS))
async def test_order_lists_count(world, kind):
    tool, args, value = LISTS[kind]
    with_account(world, "daily", "Max Daily Value: 1000 USDT")
    async with memory_client(world.tools_file, "legacy", world.base_url) as client:
        placed = await client.call_tool(tool, {**args, "account": "daily"})
        assert not placed.is_error, placed
        today = await _spent(client, "daily")
    assert Decimal(today["1000 USDT"]["spent_24h"]) == Decimal(value)


async def test_cancel_replace_success_counts_the_new_order(world):
    with_account(world, "daily", "Max Daily Value: 1000 USDT")
    async with memory_client(world.tools_file, "legacy", world.base_url) as client:
        first = result_json(await client.call_tool("place_order", {**SMALL_BUY, "account": "daily"}))
        replaced = await client.call_tool("cancel_replace_order", {
            **SMALL_BUY, "quantity": "0.002", "cancelReplaceMode": "STOP_ON_FAILURE", "cancelOrderId": first["orderId"],
            "account": "daily"})
        assert not replaced.is_error, replaced
        assert await _spent(client, "daily") == {"1000 USDT": {"spent_24h": "162", "remaining": "838"}}  # 54 + 108


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _journal_order(world, *, ago: timedelta, value: str | None, outcome: dict[str, Any] | None, entry: str,
                   account: str = "daily", **extra: Any) -> None:
    """Append an order's intent (and outcome) as a server would have written them ``ago``."""
    when = datetime.now(UTC) - ago
    intent = {"ts": _stamp(when), "id": entry, "phase": "intent", "tool": "place_order", "account": account,
              "environment": "testnet", "method": "POST", "path": "/api/v3/order",
              "params": {k: str(v) for k, v in SMALL_BUY.items()}, **extra}
    if value is not None:
        intent["policy"] = {"value": {"USDT": value}}
    lines = [intent] + ([{"ts": _stamp(when), "id": entry, "phase": "outcome", **outcome}] if outcome else [])
    path = world.tools_file.parent / "journal.jsonl"
    with path.open("a") as handle:
        for line in lines:
            handle.write(json.dumps(line) + "\n")


async def test_the_window_is_a_rolling_24_hours_and_unknown_outcomes_count(world):
    with_account(world, "daily", "Max Daily Value: 500 USDT")
    # yesterday, inside the 24 hours (before midnight unless it is 23:59 now): counts
    _journal_order(world, ago=timedelta(hours=23, minutes=59), value="100", outcome={"ok": True, "status": 200,
                                                                                    "summary": {}}, entry="a")
    _journal_order(world, ago=timedelta(hours=24, minutes=5), value="200", outcome={"ok": True, "status": 200,
                                                                                   "summary": {}}, entry="b")  # too old
    _journal_order(world, ago=timedelta(minutes=5), value="70", entry="c",
                   outcome={"ok": False, "status": None, "summary": {"recovered": "unknown", "cause": "timeout"}})
    async with memory_client(world.tools_file, "legacy", world.base_url) as client:
        assert await _spent(client, "daily") == {"500 USDT": {"spent_24h": "170", "remaining": "330"}}


async def test_an_order_worth_exactly_the_cap_passes_and_so_does_reaching_the_daily_cap_exactly(world):
    with_account(world, "exact", "Max Order Value: 54 USDT", "Max Daily Value: 108 USDT")
    async with memory_client(world.tools_file, "legacy", world.base_url) as client:
        for _ in range(2):
            placed = await client.call_tool("place_order", {**SMALL_BUY, "account": "exact"})
            assert not placed.is_error, placed
        body = refused(await client.call_tool("place_order", {**SMALL_BUY, "quantity": "0.0001", "account": "exact"}),
                       "max daily value")
    assert body["remaining"] == "0" and len(writes(world)) == 2


async def test_orders_journaled_before_the_cap_was_added_count_at_their_value(world):
    with_account(world, "late", "Allowed Symbols: BTCUSDT")
    async with memory_client(world.tools_file, "legacy", world.base_url) as client:
        assert not (await client.call_tool("place_order", {**SMALL_BUY, "account": "late"})).is_error
        assert "value" not in (journal(world)[-2].get("policy") or {})  # no cap: no value was recorded
        set_rules(world, "late", "Max Daily Value: 100 USDT")
        body = refused(await client.call_tool("place_order", {**SMALL_BUY, "account": "late"}), "max daily value")
    assert body["spent_24h"] == "54" and len(writes(world)) == 1


@pytest.mark.parametrize(("server_cap", "account_cap", "binding"), [
    pytest.param("100 USDT", "1 BTC", "100 USDT", id="server-usdt-binds"),
    pytest.param("1000 USDT", "0.0015 BTC", "0.0015 BTC", id="account-btc-binds"),
])
async def test_two_daily_caps_in_different_assets_both_hold(world, server_cap, account_cap, binding):
    with_account(world, "two", f"Max Daily Value: {account_cap}")
    env = {"BINANCE_SPOT_MCP_MAX_DAILY_VALUE": server_cap}
    async with memory_client(world.tools_file, "legacy", world.base_url, extra_env=env) as client:
        assert not (await client.call_tool("place_order", {**SMALL_BUY, "account": "two"})).is_error
        body = refused(await client.call_tool("place_order", {**SMALL_BUY, "account": "two"}), "max daily value")
    assert body["cap"] == binding and len(writes(world)) == 1
