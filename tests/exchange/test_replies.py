"""What the client and the server make of each kind of reply (invariants 3 and 4).

Driven through ``BinanceClient`` / ``Runtime`` with an ``httpx.MockTransport`` that plays
Binance: every non-2xx is an error; a change answered by something unexpected is an UNKNOWN
outcome that is looked up by client id and never re-sent."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from binance_spot_mcp.accounts.reading import Account
from binance_spot_mcp.catalog.endpoints import parse_skill
from binance_spot_mcp.config import load_settings
from binance_spot_mcp.errors import ExchangeError, TransportError
from binance_spot_mcp.exchange.client import BinanceClient, midpoint_offset_ms
from binance_spot_mcp.exchange.signing import HmacSigner
from binance_spot_mcp.journal import Journal
from binance_spot_mcp.server import Runtime
from tests.e2e_support import random_token
from tests.mini_skill import MINI_SKILL

pytestmark = pytest.mark.anyio

BASE = "http://127.0.0.1:9"
CATALOG = parse_skill(MINI_SKILL)
KEY, SECRET = random_token(), random_token()
ACCOUNT = Account(name="t", environment="testnet", api_key=KEY, signer=HmacSigner(SECRET), base_url=BASE)
ORDER = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"}
FOUND = {"symbol": "BTCUSDT", "orderId": 7, "clientOrderId": "x", "status": "FILLED"}


def _client(handler: Callable[[httpx.Request], httpx.Response], **kwargs) -> BinanceClient:
    client = BinanceClient(skill_version="1", transport=httpx.MockTransport(handler), **kwargs)
    client.read_retry_delays_s = (0.0, 0.0)
    return client


# --------------------------------------------------------------------------- the client alone


@pytest.mark.parametrize("status", [101, 204, 301, 302, 307, 308])
async def test_a_1xx_or_3xx_reply_is_never_success(status):
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        headers = {"Location": "http://evil.example.com/steal"} if 300 <= status < 400 else {}
        if status == 204:
            return httpx.Response(204)
        return httpx.Response(status, headers=headers)

    client = _client(handler)
    try:
        if status == 204:
            assert (await client.call(CATALOG.get("place_order"), list(ORDER.items()), base_url=BASE, account=ACCOUNT)).data == {}
            return
        with pytest.raises(TransportError) as caught:
            await client.call(CATALOG.get("place_order"), list(ORDER.items()), base_url=BASE, account=ACCOUNT)
    finally:
        await client.aclose()
    assert caught.value.sent and f"HTTP {status}" in caught.value.message and "UNKNOWN" in caught.value.hint
    assert [r.url.host for r in seen] == ["127.0.0.1"]  # the redirect was not followed with the key


async def test_a_non_json_2xx_reply_to_a_change_may_have_executed():
    client = _client(lambda request: httpx.Response(200, text="<html>ok</html>"))
    try:
        with pytest.raises(TransportError) as caught:
            await client.call(CATALOG.get("place_order"), list(ORDER.items()), base_url=BASE, account=ACCOUNT)
    finally:
        await client.aclose()
    assert caught.value.sent is True


async def test_a_500_on_a_read_is_retried_and_on_a_change_is_not():
    calls: dict[str, int] = {"GET": 0, "POST": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        calls[request.method] += 1
        if calls[request.method] == 1:
            return httpx.Response(500, json={"code": -1000, "msg": "unknown"})
        return httpx.Response(200, json={"ok": True})

    client = _client(handler)
    try:
        reply = await client.call(CATALOG.get("get_account"), [], base_url=BASE, account=ACCOUNT)
        with pytest.raises(ExchangeError):
            await client.call(CATALOG.get("place_order"), list(ORDER.items()), base_url=BASE, account=ACCOUNT)
    finally:
        await client.aclose()
    assert reply.data == {"ok": True} and calls == {"GET": 2, "POST": 1}


async def test_the_minus_1021_resync_happens_once_per_call():
    calls = {"time": 0, "account": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v3/time":
            calls["time"] += 1
            return httpx.Response(200, json={"serverTime": 1_000_000})
        calls["account"] += 1
        return httpx.Response(400, json={"code": -1021, "msg": "Timestamp for this request is outside of the recvWindow."})

    client = _client(handler)
    try:
        with pytest.raises(ExchangeError) as caught:
            await client.call(CATALOG.get("get_account"), [], base_url=BASE, account=ACCOUNT)
    finally:
        await client.aclose()
    assert caught.value.code == -1021 and calls == {"time": 1, "account": 2}


async def test_the_clock_offset_is_taken_at_the_round_trips_midpoint():
    ticks = iter([1000, 1400])  # sent at 1000, answer read at 1400

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"serverTime": 5000})

    client = _client(handler, clock_ms=lambda: next(ticks))
    try:
        assert await client.sync_clock(BASE) == 5000 - 1200
    finally:
        await client.aclose()
    assert midpoint_offset_ms(5000, 1000, 1400) == 3800 and midpoint_offset_ms(5000, 1000, 1401) == 3800


# ------------------------------------------------------------------ the server's lost-reply path


def _tools(tmp_path: Path) -> Path:
    path = tmp_path / "TOOLS.md"
    path.write_text(
        f"## Binance Accounts\n### main\n- API Key: {KEY}\n- Secret: {SECRET}\n- Environment: testnet\n- Base URL: {BASE}\n"
    )
    return path


async def _place(tmp_path: Path, handler: Callable[[httpx.Request], httpx.Response]) -> tuple[dict, list[dict]]:
    settings = load_settings(
        tools_file=str(_tools(tmp_path)),
        environ={"BINANCE_SPOT_MCP_JOURNAL": str(tmp_path / "journal.jsonl"), "BINANCE_SPOT_MCP_LOCAL_FILTERS": "0"},
    )
    settings = dataclasses.replace(settings, outcome_lookup_delays_s=(0.0, 0.0, 0.0))
    runtime = Runtime(settings=settings, transport=httpx.MockTransport(handler))
    runtime.client.read_retry_delays_s = ()  # one GET per look-up, so the script below is exact
    try:
        result = await runtime.call("place_order", dict(ORDER))
    finally:
        await runtime.aclose()
    body = json.loads(result.content[0].text)
    body["_is_error"] = result.is_error
    return body, Journal(tmp_path / "journal.jsonl").latest(10)


def _exchange(post: httpx.Response, lookups: list[httpx.Response]) -> tuple[Callable, dict[str, int]]:
    counts = {"POST": 0, "GET": 0}
    answers = iter(lookups)

    def handler(request: httpx.Request) -> httpx.Response:
        counts[request.method] += 1
        if request.method == "POST":
            return post
        return next(answers)

    return handler, counts


async def test_an_order_answered_by_a_307_is_looked_up_not_reported_as_done(tmp_path):
    handler, counts = _exchange(httpx.Response(307, headers={"Location": "http://x"}), [httpx.Response(200, json=FOUND)])
    body, journal = await _place(tmp_path, handler)
    assert not body["_is_error"] and body["outcome"] == "placed, FILLED" and "HTTP 307" in body["note"]
    assert counts == {"POST": 1, "GET": 1}
    assert journal[-1]["summary"]["recovered"] == "placed, FILLED"


@pytest.mark.parametrize("code", [-1006, -1007])
async def test_unknown_status_codes_on_a_4xx_reply_are_looked_up(tmp_path, code):
    handler, counts = _exchange(
        httpx.Response(400, json={"code": code, "msg": "Execution status unknown."}), [httpx.Response(200, json=FOUND)]
    )
    body, _ = await _place(tmp_path, handler)
    assert body["outcome"] == "placed, FILLED" and counts["POST"] == 1


async def test_a_non_json_200_to_an_order_is_looked_up(tmp_path):
    handler, counts = _exchange(httpx.Response(200, text="oops"), [httpx.Response(200, json=FOUND)])
    body, _ = await _place(tmp_path, handler)
    assert body["outcome"] == "placed, FILLED" and counts == {"POST": 1, "GET": 1}


NOT_FOUND = httpx.Response(400, json={"code": -2013, "msg": "Order does not exist."})
RATE_LIMITED = httpx.Response(429, json={"code": -1003, "msg": "Too much request weight used."}, headers={"Retry-After": "1"})
BANNED = httpx.Response(418, json={"code": -1003, "msg": "Way too much request weight used; IP banned."})
KEY_REJECTED = httpx.Response(401, json={"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."})
LOST = httpx.Response(503, json={"code": -1008, "msg": "Server is currently overloaded."})


@pytest.mark.parametrize(
    "lookups",
    [
        [NOT_FOUND, NOT_FOUND, RATE_LIMITED],
        [BANNED, NOT_FOUND, NOT_FOUND],
        [NOT_FOUND, KEY_REJECTED, NOT_FOUND],
        [LOST, LOST, NOT_FOUND],
    ],
    ids=["429", "418", "401", "one-not-found"],
)
async def test_a_lookup_that_did_not_say_not_found_every_time_leaves_the_outcome_unknown(tmp_path, lookups):
    handler, counts = _exchange(httpx.Response(502, json={"code": -1006, "msg": "unexpected"}), lookups)
    body, journal = await _place(tmp_path, handler)
    assert body["_is_error"] and body["message"].startswith("Outcome: UNKNOWN"), body
    assert "safe to place it again" not in body.get("hint", "")
    assert counts["POST"] == 1 and journal[-1]["summary"]["recovered"] == "unknown"


async def test_not_found_every_time_is_not_placed(tmp_path):
    handler, counts = _exchange(httpx.Response(502, json={"code": -1006, "msg": "unexpected"}), [NOT_FOUND] * 3)
    body, journal = await _place(tmp_path, handler)
    assert body["message"].startswith("Outcome: not placed") and "safe to place it again" in body["hint"]
    assert counts == {"POST": 1, "GET": 3} and journal[-1]["summary"]["recovered"] == "not placed"


# ------------------------------------------------------------------ where keys may go (invariant 3)


@pytest.mark.parametrize(
    "url",
    ["http://localhost.evil.com", "http://127.0.0.1.evil.com:80", "https://api.binance.com:8443",
     "https://api.binance.com:80", "https://localhost@evil.com", "https://evil.com#api.binance.com"],
)
def test_look_alike_hosts_and_other_ports_on_binance_hosts_are_refused(url):
    from binance_spot_mcp.config import base_url_problem

    assert base_url_problem(url) is not None


def test_slashes_and_other_reserved_characters_are_encoded_in_values():
    from binance_spot_mcp.exchange.client import encode_params

    assert encode_params([("newClientOrderId", "a/b:c"), ("x", "&=?#")]) == "newClientOrderId=a%2Fb%3Ac&x=%26%3D%3F%23"
