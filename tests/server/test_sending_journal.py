"""What the send path writes to the journal (invariant 4): the intent names the tool, account,
environment, method, path, key identity, approval and policy verdict before anything leaves; the
outcome keeps an order reply's identifying fields (the mutation run of ``server.sending`` asked for
these)."""

from __future__ import annotations

import re
import socket
from types import SimpleNamespace
from typing import Any

import pytest
from binance_spot_mcp.guard.daily import key_identity
from binance_spot_mcp.server import Runtime
from mcp.types import ElicitResult

from tests.e2e_support import memory_client, result_json
from tests.guard.test_guard_rails import SMALL_BUY, journal, with_account

pytestmark = pytest.mark.anyio


def _last_pair(world) -> tuple[dict[str, Any], dict[str, Any]]:
    intent, outcome = journal(world)[-2:]
    assert intent["phase"] == "intent" and outcome["phase"] == "outcome" and intent["id"] == outcome["id"]
    return intent, outcome


async def test_the_intent_and_outcome_of_a_placed_order(world):
    with_account(world, "capped", "Max Order Value: 100 USDT")
    async with memory_client(world.tools_file, "legacy", world.base_url) as client:
        placed = result_json(await client.call_tool("place_order", {**SMALL_BUY, "account": "capped"}))
    intent, outcome = _last_pair(world)
    expected_key = key_identity(SimpleNamespace(environment="testnet", api_key=world.keys.hmac_api_key))  # type: ignore[arg-type]
    assert {k: intent[k] for k in ("tool", "account", "environment", "method", "path", "approved_via", "key")} == {
        "tool": "place_order", "account": "capped", "environment": "testnet", "method": "POST",
        "path": "/api/v3/order", "approved_via": "not required", "key": expected_key,
    }
    assert intent["policy"]["value"] == {"USDT": "54"}
    assert intent["params"]["newClientOrderId"] == placed["clientOrderId"]
    assert outcome["ok"] is True and outcome["status"] == 200
    summary = outcome["summary"]
    assert summary["orderId"] == placed["orderId"] and summary["clientOrderId"] == placed["clientOrderId"]
    assert summary["symbol"] == "BTCUSDT" and summary["status"] == placed["status"]
    assert "fills" not in summary and all(not isinstance(v, dict | list) for v in summary.values())


async def test_a_reply_that_is_a_list_is_journaled_as_its_length(world):
    async with memory_client(world.tools_file, "legacy", world.base_url) as client:
        for _ in range(2):
            assert not (await client.call_tool("place_order", {**SMALL_BUY, "account": "main"})).is_error
        cancelled = result_json(await client.call_tool("cancel_open_orders", {"symbol": "BTCUSDT", "account": "main"}))
    assert isinstance(cancelled, list) and len(cancelled) == 2
    _, outcome = _last_pair(world)
    assert outcome["summary"] == {"items": 2}


async def test_an_approved_change_names_its_approval(world):
    async def human(ctx: Any, params: Any) -> ElicitResult:
        return ElicitResult(action="accept", content={"confirm": "CONFIRM"})

    async with memory_client(world.tools_file, "legacy", world.base_url, elicitation_callback=human) as client:
        result = await client.call_tool("place_order", {**SMALL_BUY, "account": "live"})
    assert not result.is_error, result
    intent, _ = _last_pair(world)
    assert intent["account"] == "live" and intent["environment"] == "mainnet"
    assert intent["approved_via"] not in ("not required", "not approved") and intent["approval_id"]


IDENTIFYING = ("symbol", "orderId", "orderListId", "clientOrderId", "listClientOrderId", "status", "listOrderStatus",
               "executedQty", "cummulativeQuoteQty", "cancelResult", "newOrderResult")
# A cancel whose order does not exist fails; ALLOW_FAILURE places the new order anyway (409), STOP_ON_FAILURE does not (400).
REPLACE_UNKNOWN = {**SMALL_BUY, "cancelReplaceMode": "ALLOW_FAILURE", "cancelOrderId": 987654321, "account": "main"}


async def test_a_cancel_replace_error_keeps_what_was_placed_all_the_same(world):
    async with memory_client(world.tools_file, "legacy", world.base_url) as client:
        partial = result_json(await client.call_tool("cancel_replace_order", REPLACE_UNKNOWN))
        _, outcome = _last_pair(world)
        new_order = partial["data"]["newOrderResponse"]
        assert outcome["ok"] is False and outcome["status"] == 409
        assert outcome["summary"] == {
            "code": -2021, "msg": "Order cancel-replace partially failed.", "cancelResult": "FAILURE",
            "newOrderResult": "SUCCESS",
            "newOrder": {k: new_order[k] for k in IDENTIFYING if k in new_order},
        }
        await client.call_tool("cancel_replace_order", {**REPLACE_UNKNOWN, "cancelReplaceMode": "STOP_ON_FAILURE"})
        _, outcome = _last_pair(world)
        assert outcome["status"] == 400 and outcome["summary"] == {
            "code": -2022, "msg": "Order cancel-replace failed.", "cancelResult": "FAILURE", "newOrderResult": "NOT_ATTEMPTED",
        }
        # an error without data: its code and message only
        rejected = await client.call_tool("cancel_order", {"symbol": "BTCUSDT", "orderId": 987654321, "account": "main"})
        assert rejected.is_error
        _, outcome = _last_pair(world)
        assert outcome["summary"] == {"code": result_json(rejected)["code"], "msg": result_json(rejected)["msg"]}


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_an_order_that_never_left_is_reported_as_such_and_not_looked_up(world):
    """A refused connection (nothing sent): the error as it is, journaled as not executed; no look-up."""
    text = world.tools_file.read_text().replace(world.base_url, f"http://127.0.0.1:{_closed_port()}", 1)
    world.tools_file.write_text(text)  # 'main' (the first account) now points at a closed port
    async with memory_client(world.tools_file, "legacy", world.base_url,
                             extra_env={"BINANCE_SPOT_MCP_LOCAL_FILTERS": "0"}) as client:
        result = await client.call_tool("place_order", {**SMALL_BUY, "account": "main"})
    body = result_json(result)
    assert result.is_error and body["error"] != "order_outcome", body
    _, outcome = _last_pair(world)
    assert outcome["ok"] is False and outcome["status"] is None
    assert outcome["summary"]["may_have_executed"] is False and outcome["summary"]["error"] == body["message"]


async def test_a_5xx_to_a_request_without_a_client_id_is_reported_not_looked_up(world):
    world.exchange.inject("error_before", path="/api/v3/openOrders", method="DELETE", status=503)
    async with memory_client(world.tools_file, "legacy", world.base_url) as client:
        result = await client.call_tool("cancel_open_orders", {"symbol": "BTCUSDT", "account": "main"})
    body = result_json(result)
    assert result.is_error and body["error"] != "order_outcome" and body["status"] == 503, body
    _, outcome = _last_pair(world)
    assert outcome["ok"] is False and outcome["status"] == 503


async def test_a_lost_reply_is_journaled_on_its_own_entry_with_its_cause(world):
    """HTTP 500 exactly is a lost reply too; the recovered outcome closes the order's own intent."""
    world.exchange.inject("error_after", path="/api/v3/order", method="POST", status=500)
    async with memory_client(world.tools_file, "legacy", world.base_url) as client:
        result = await client.call_tool("place_order", {**SMALL_BUY, "account": "main"})
    body = result_json(result)
    assert not result.is_error and body["outcome"].startswith("placed"), body
    assert re.search(r"The reply was lost \(.+ \(HTTP 500\)\); the request was NOT sent again", body["note"]), body
    intent, outcome = _last_pair(world)
    assert intent["tool"] == "place_order" and outcome["ok"] is True
    assert outcome["summary"]["recovered"] == body["outcome"] and outcome["summary"]["orderId"] == body["result"]["orderId"]


async def test_a_lost_reply_the_user_data_stream_already_reported_needs_no_look_up(world):
    asked: list[tuple[str, dict[str, str]]] = []

    def stream_saw_it(runtime: Runtime) -> None:
        def order_seen(account: Any, tool: str, arguments: tuple[tuple[str, str], ...]) -> dict[str, Any] | None:
            values = dict(arguments)
            asked.append((tool, values))
            if tool != "get_order" or account.name != "main":
                return None
            return {"symbol": values["symbol"], "orderId": 777, "clientOrderId": values["origClientOrderId"],
                    "status": "PARTIALLY_FILLED", "fills": []}

        runtime.stream_tools.order_seen = order_seen  # type: ignore[method-assign]

    world.exchange.inject("error_after", path="/api/v3/order", method="POST")
    async with memory_client(world.tools_file, "legacy", world.base_url, on_runtime=stream_saw_it) as client:
        result = await client.call_tool("place_order", {**SMALL_BUY, "account": "main"})
    body = result_json(result)
    assert not result.is_error and body["outcome"] == "placed, PARTIALLY_FILLED", body
    client_id = body["result"]["clientOrderId"]
    assert client_id.startswith("agent-") and asked == [("get_order", {"symbol": "BTCUSDT", "origClientOrderId": client_id})]
    assert "user data stream" in body["note"] and client_id in body["note"]
    assert world.exchange.requests_to("/api/v3/order")[-1].method == "POST"  # no GET look-up
    intent, outcome = _last_pair(world)
    assert intent["params"]["newClientOrderId"] == client_id
    assert outcome["ok"] is True and outcome["status"] is None
    assert outcome["summary"] == {"recovered": "placed, PARTIALLY_FILLED", "symbol": "BTCUSDT", "orderId": 777,
                                  "clientOrderId": client_id, "status": "PARTIALLY_FILLED"}
