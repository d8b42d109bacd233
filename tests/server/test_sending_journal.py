"""What the send path writes to the journal (invariant 4): the intent names the tool, account,
environment, method, path, key identity, approval and policy verdict before anything leaves; the
outcome keeps an order reply's identifying fields (the mutation run of ``server.sending`` asked for
these)."""

from __future__ import annotations

import dataclasses
import re
import socket
from types import SimpleNamespace
from typing import Any

import pytest
from binance_spot_mcp.guard.daily import counts, key_identity
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
    world.exchange.inject("error_after", path="/api/v3/order", method="POST", status=500, code=-1000,
                          msg="An unknown error occurred while processing the request.")
    async with memory_client(world.tools_file, "legacy", world.base_url) as client:
        result = await client.call_tool("place_order", {**SMALL_BUY, "account": "main"})
    body = result_json(result)
    assert not result.is_error and body["outcome"].startswith("placed"), body
    assert re.search(r"The reply was lost \(.+ \(HTTP 500\)\); the request was NOT sent again", body["note"]), body
    intent, outcome = _last_pair(world)
    assert intent["tool"] == "place_order" and outcome["ok"] is True
    assert outcome["summary"]["recovered"] == body["outcome"] and outcome["summary"]["orderId"] == body["result"]["orderId"]


def _stream_reports(asked: list[tuple[str, dict[str, str]]], status: str = "PARTIALLY_FILLED"):
    """An ``on_runtime`` that makes the user data stream report, for 'main', an order (orderId 777,
    ``status``) under whatever client id is asked: right, wrong or forged, it is the stream's word."""

    def stream_saw_it(runtime: Runtime) -> None:
        def order_seen(account: Any, tool: str, arguments: tuple[tuple[str, str], ...]) -> dict[str, Any] | None:
            values = dict(arguments)
            asked.append((tool, values))
            if tool != "get_order" or account.name != "main":
                return None
            return {"symbol": values["symbol"], "orderId": 777, "clientOrderId": values["origClientOrderId"],
                    "status": status, "fills": []}

        runtime.stream_tools.order_seen = order_seen  # type: ignore[method-assign]
        runtime.client.read_retry_delays_s = ()  # one look-up is one request

    return stream_saw_it


def _after_cause(note: str) -> str:
    """A lost reply's note from the end of its cause on ("The reply was lost (<cause>)...")."""
    assert note.startswith("The reply was lost ("), note
    return note[note.index("; the request was NOT sent again."):]


def _gets(world) -> list[Any]:
    return [r for r in world.exchange.requests_to("/api/v3/order") if r.method == "GET"]


async def test_a_lost_reply_the_user_data_stream_reported_is_confirmed_with_get_order(world):
    """The stream's word (orderId 777, PARTIALLY_FILLED) is checked with one get_order by client id;
    Binance's answer (the resting order, NEW) is what the model and the journal get, naming both sources."""
    asked: list[tuple[str, dict[str, str]]] = []
    world.exchange.inject("error_after", path="/api/v3/order", method="POST")
    async with memory_client(world.tools_file, "legacy", world.base_url, on_runtime=_stream_reports(asked)) as client:
        result = await client.call_tool("place_order", {**SMALL_BUY, "account": "main"})
    body = result_json(result)
    assert not result.is_error and body["outcome"] == "placed, NEW", body
    client_id = body["result"]["clientOrderId"]
    assert client_id.startswith("agent-") and asked == [("get_order", {"symbol": "BTCUSDT", "origClientOrderId": client_id})]
    assert body["result"]["orderId"] != 777 and body["result"]["status"] == "NEW"
    assert body["source"] == "user_data_stream" and body["confirmed_by"] == "get_order"
    assert body["stream_said"] == "placed, PARTIALLY_FILLED"
    assert _after_cause(body["note"]) == (
        f"; the request was NOT sent again. The account's order events (user data stream) reported it by its client "
        f"id {client_id}, and Binance's get_order confirmed it; Binance's answer is shown. The stream said "
        "'placed, PARTIALLY_FILLED', which Binance contradicts: it is not believed.")
    gets = _gets(world)
    assert [g.params["origClientOrderId"] for g in gets] == [client_id]
    intent, outcome = _last_pair(world)
    assert intent["params"]["newClientOrderId"] == client_id
    assert outcome["ok"] is True and outcome["status"] is None
    assert outcome["summary"] == {"recovered": "placed, NEW", "symbol": "BTCUSDT", "orderId": body["result"]["orderId"],
                                  "orderListId": -1, "clientOrderId": client_id, "status": "NEW", "executedQty": "0.00000000",
                                  "cummulativeQuoteQty": "0.00000000", "source": "user_data_stream",
                                  "confirmed_by": "get_order", "stream_said": "placed, PARTIALLY_FILLED"}


async def test_a_stream_report_that_binance_agrees_with_names_no_disagreement(world):
    asked: list[tuple[str, dict[str, str]]] = []
    world.exchange.inject("error_after", path="/api/v3/order", method="POST")
    async with memory_client(world.tools_file, "legacy", world.base_url,
                             on_runtime=_stream_reports(asked, status="NEW")) as client:
        body = result_json(await client.call_tool("place_order", {**SMALL_BUY, "account": "main"}))
    assert body["outcome"] == "placed, NEW" and body["confirmed_by"] == "get_order" and "stream_said" not in body, body
    _, outcome = _last_pair(world)
    assert "stream_said" not in outcome["summary"] and outcome["summary"]["confirmed_by"] == "get_order"


async def test_a_stream_report_get_order_cannot_check_settles_it_unconfirmed(world):
    """The look-up fails (503, not 'no such order'): the stream's word settles it, marked unconfirmed,
    after that one look-up; it counts toward the daily total."""
    asked: list[tuple[str, dict[str, str]]] = []
    world.exchange.inject("error_after", path="/api/v3/order", method="POST")
    world.exchange.inject("error_before", path="/api/v3/order", method="GET", status=503, times=50)
    async with memory_client(world.tools_file, "legacy", world.base_url, on_runtime=_stream_reports(asked)) as client:
        result = await client.call_tool("place_order", {**SMALL_BUY, "account": "main"})
    body = result_json(result)
    assert not result.is_error and body["outcome"] == "placed, PARTIALLY_FILLED", body
    assert body["result"]["orderId"] == 777 and body["source"] == "user_data_stream" and body["confirmed_by"] is None
    assert _after_cause(body["note"]).startswith(
        f"; the request was NOT sent again. UNCONFIRMED: the account's order events (user data stream) reported it by "
        f"its client id {body['result']['clientOrderId']}, but Binance's get_order could not answer (")
    assert body["note"].endswith(f"(HTTP 503)). Check with get_order symbol=BTCUSDT origClientOrderId="
                                 f"{body['result']['clientOrderId']} before relying on it.")
    assert len(_gets(world)) == 1 and len(asked) == 1
    intent, outcome = _last_pair(world)
    assert outcome["ok"] is True and outcome["status"] is None
    summary = outcome["summary"]
    assert summary["recovered"] == "placed, PARTIALLY_FILLED" and summary["orderId"] == 777
    assert summary["source"] == "user_data_stream" and summary["confirmed_by"] is None
    assert "(HTTP 503)" in summary["lookup_error"]
    assert counts(intent, outcome)


async def test_a_stream_report_whose_look_up_is_lost_in_transit_is_settled_unconfirmed(world):
    """The look-up's connection drops (no HTTP answer at all): the stream's word, unconfirmed, with the
    transport error as the reason."""
    asked: list[tuple[str, dict[str, str]]] = []
    world.exchange.inject("error_after", path="/api/v3/order", method="POST")
    world.exchange.inject("drop_after", path="/api/v3/order", method="GET")
    async with memory_client(world.tools_file, "legacy", world.base_url, on_runtime=_stream_reports(asked)) as client:
        result = await client.call_tool("place_order", {**SMALL_BUY, "account": "main"})
    body = result_json(result)
    assert not result.is_error and body["outcome"] == "placed, PARTIALLY_FILLED" and body["confirmed_by"] is None, body
    assert len(_gets(world)) == 1
    _, outcome = _last_pair(world)
    lookup_error = outcome["summary"]["lookup_error"]
    assert lookup_error and "(HTTP" not in lookup_error and f"could not answer ({lookup_error})" in body["note"]


async def test_a_stream_report_binance_does_not_know_is_unknown_never_not_placed(world):
    """Nothing was placed (503 before executing), yet the stream reports the order (wrong or forged):
    get_order says 'no such order', and the outcome is UNKNOWN, not 'not placed'; it counts."""
    asked: list[tuple[str, dict[str, str]]] = []
    world.exchange.inject("error_before", path="/api/v3/order", method="POST", status=503)
    async with memory_client(world.tools_file, "legacy", world.base_url, on_runtime=_stream_reports(asked)) as client:
        result = await client.call_tool("place_order", {**SMALL_BUY, "account": "main"})
    body = result_json(result)
    assert result.is_error and body["error"] == "order_outcome", body
    assert body["message"].startswith("Outcome: UNKNOWN. The reply was lost (") and "not placed" not in body["message"]
    client_id = asked[0][1]["origClientOrderId"]
    assert body["message"].endswith(
        f"(HTTP 503)). The account's order events (user data stream) reported client id {client_id} as 'placed, "
        "PARTIALLY_FILLED', but Binance's get_order found no such order; the stream may be wrong or forged. "
        "It was not sent again."), body
    assert body["hint"] == f"Do not repeat the order; check with get_order symbol=BTCUSDT origClientOrderId={client_id}"
    assert len(_gets(world)) == 1 and len(asked) == 1
    intent, outcome = _last_pair(world)
    assert outcome["ok"] is False and outcome["status"] is None
    assert outcome["summary"]["recovered"] == "unknown" and "(HTTP 503)" in outcome["summary"]["cause"]
    assert outcome["summary"]["source"] == "user_data_stream" and outcome["summary"]["get_order"] == "not found"
    assert counts(intent, outcome)


def _fast_lookups(runtime: Runtime) -> None:
    runtime.sender.settings = dataclasses.replace(runtime.settings, outcome_lookup_delays_s=(0.01, 0.02, 0.03))


async def test_not_placed_and_unknown_outcomes_close_their_own_entry(world):
    world.exchange.inject("error_before", path="/api/v3/order", method="POST", status=503)
    async with memory_client(world.tools_file, "legacy", world.base_url, on_runtime=_fast_lookups) as client:
        first = result_json(await client.call_tool("place_order", {**SMALL_BUY, "account": "main"}))
        assert first["message"].startswith("Outcome: not placed"), first
        intent, outcome = _last_pair(world)
        assert intent["tool"] == "place_order" and outcome["ok"] is False and outcome["status"] is None
        assert outcome["summary"]["recovered"] == "not placed" and "(HTTP 503)" in outcome["summary"]["cause"]
        assert set(outcome["summary"]) == {"recovered", "cause"}

        world.exchange.inject("error_after", path="/api/v3/order", method="POST")
        world.exchange.inject("error_before", path="/api/v3/order", method="GET", status=503, times=50)
        second = result_json(await client.call_tool("place_order", {**SMALL_BUY, "account": "main"}))
        assert second["message"].startswith("Outcome: UNKNOWN"), second
        _, outcome = _last_pair(world)
        assert outcome["ok"] is False and outcome["status"] is None
        assert outcome["summary"]["recovered"] == "unknown" and set(outcome["summary"]) == {"recovered", "cause"}


def _fast_lookups_no_read_retries(runtime: Runtime) -> None:
    _fast_lookups(runtime)
    runtime.client.read_retry_delays_s = ()  # a dropped look-up is not retried inside the client


async def test_a_look_up_lost_in_transit_is_asked_again(world):
    world.exchange.inject("error_after", path="/api/v3/order", method="POST")
    world.exchange.inject("drop_after", path="/api/v3/order", method="GET")
    async with memory_client(world.tools_file, "legacy", world.base_url, on_runtime=_fast_lookups_no_read_retries) as client:
        body = result_json(await client.call_tool("place_order", {**SMALL_BUY, "account": "main"}))
    assert body.get("outcome", "").startswith("placed"), body
    lookups = [r for r in world.exchange.requests_to("/api/v3/order") if r.method == "GET"]
    assert len(lookups) == 2


async def test_a_reply_dropped_in_transit_is_journaled_on_its_own_entry(world):
    world.exchange.inject("drop_after", path="/api/v3/order", method="POST")
    async with memory_client(world.tools_file, "legacy", world.base_url, on_runtime=_fast_lookups) as client:
        body = result_json(await client.call_tool("place_order", {**SMALL_BUY, "account": "main"}))
    assert body["outcome"].startswith("placed"), body
    intent, outcome = _last_pair(world)
    assert intent["tool"] == "place_order" and outcome["summary"]["recovered"] == body["outcome"]


async def test_a_request_the_client_refuses_to_send_is_journaled_as_not_sent(world):
    """A ban (418) makes the client refuse every request until it ends: nothing leaves, and the journal says so."""
    world.exchange.inject("error_before", path="/api/v3/account", method="GET", status=418, retry_after=600)
    async with memory_client(world.tools_file, "legacy", world.base_url,
                             extra_env={"BINANCE_SPOT_MCP_LOCAL_FILTERS": "0"}) as client:
        assert (await client.call_tool("get_account", {"account": "main"})).is_error
        posts_before = len([r for r in world.exchange.requests if r.method == "POST"])
        result = await client.call_tool("place_order", {**SMALL_BUY, "account": "main"})
    body = result_json(result)
    assert result.is_error and len([r for r in world.exchange.requests if r.method == "POST"]) == posts_before
    intent, outcome = _last_pair(world)
    assert intent["tool"] == "place_order" and outcome["ok"] is False and outcome["status"] is None
    assert outcome["summary"] == {"not_sent": body["error"], "error": body["message"]}


async def test_an_id_given_without_the_agent_prefix_finds_the_order_placed_with_it(world):
    async with memory_client(world.tools_file, "legacy", world.base_url) as client:
        placed = result_json(await client.call_tool("place_order", {**SMALL_BUY, "account": "main"}))
        given = placed["clientOrderId"].removeprefix("agent-")
        found = result_json(await client.call_tool("get_order", {"symbol": "BTCUSDT", "origClientOrderId": given,
                                                                 "account": "main"}))
        unknown = await client.call_tool("get_order", {"symbol": "BTCUSDT", "origClientOrderId": "nosuchorder1",
                                                       "account": "main"})
    assert found["result"]["orderId"] == placed["orderId"] and f"'{placed['clientOrderId']}' was used" in found["note"]
    assert unknown.is_error and result_json(unknown)["code"] == -2013
    asked = [r.params["origClientOrderId"] for r in world.exchange.requests_to("/api/v3/order") if r.method == "GET"]
    # the id as given, then with the prefix, then the call; the unknown id is not changed
    assert asked == [given, f"agent-{given}", f"agent-{given}", "nosuchorder1", "agent-nosuchorder1", "nosuchorder1"]


async def test_an_id_is_kept_as_given_when_binance_cannot_say_whether_it_exists(world):
    def no_read_retries(runtime: Runtime) -> None:
        runtime.client.read_retry_delays_s = ()

    async with memory_client(world.tools_file, "legacy", world.base_url, on_runtime=no_read_retries) as client:
        placed = result_json(await client.call_tool("place_order", {**SMALL_BUY, "account": "main"}))
        given = placed["clientOrderId"].removeprefix("agent-")
        world.exchange.inject("error_before", path="/api/v3/order", method="GET", status=503)
        result = await client.call_tool("get_order", {"symbol": "BTCUSDT", "origClientOrderId": given, "account": "main"})
    # the look-up failed (503): not "no such order", so the prefixed id is not tried and the call uses the id as given
    assert result.is_error and result_json(result)["code"] == -2013
    gets = [r for r in world.exchange.requests_to("/api/v3/order") if r.method == "GET"]
    assert len(gets) == 2 and gets[-1].params["origClientOrderId"] == given
