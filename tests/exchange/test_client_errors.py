"""What ``BinanceClient`` makes of each reply and each failure, as the caller sees it.

Error replies become ``ExchangeError`` with Binance's status, code, msg, the right next-step hint
(Retry-After for 418/429, UNKNOWN for a change answered by a 5xx) and the ``data`` member;
failures in transit become ``TransportError`` that says whether the request may have reached
Binance. Driven through ``httpx.MockTransport`` (no network); keys are made per test run.
Several of these were prompted by mutation testing (``mutation/run.py client``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from binance_spot_mcp.accounts.reading import Account
from binance_spot_mcp.catalog.endpoints import load_catalog, parse_skill
from binance_spot_mcp.errors import BINANCE_HINTS, HTTP_HINTS, TOOL_HINTS, ExchangeError, TransportError
from binance_spot_mcp.exchange.client import BinanceClient, Reply
from binance_spot_mcp.exchange.signing import HmacSigner
from tests.e2e_support import random_token
from tests.mini_skill import MINI_SKILL

pytestmark = pytest.mark.anyio

BASE = "http://127.0.0.1:9"
CATALOG = parse_skill(MINI_SKILL)
KEY, SECRET = random_token(), random_token()
ACCOUNT = Account(name="t", environment="testnet", api_key=KEY, signer=HmacSigner(SECRET), base_url=BASE)
ORDER = [("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "MARKET"), ("quantity", "0.001")]
UNKNOWN_OUTCOME = (
    "The outcome is UNKNOWN: the request may have been executed. Do not repeat it blindly; "
    "check with get_open_orders / get_order (origClientOrderId) first."
)
READ_FAILED = "The read failed in transit; it is safe to call it again."
INTERNAL = "Binance had an internal error; the outcome is unknown, so check before repeating any order."
GENERIC = "Read Binance's message, fix the request and try again."

Handler = Callable[[httpx.Request], httpx.Response]


async def _call(handler: Handler, tool: str = "place_order", params: Any = None, *, catalog: Any = CATALOG,
                retries: tuple[float, ...] = ()) -> Reply:
    """One ``call`` on a fresh client; reads are retried ``len(retries)`` times (no waiting)."""
    client = BinanceClient(skill_version="1", transport=httpx.MockTransport(handler))
    client.read_retry_delays_s = retries
    try:
        return await client.call(catalog.get(tool), ORDER if params is None else params, base_url=BASE, account=ACCOUNT)
    finally:
        await client.aclose()


async def _exchange_error(handler: Handler, tool: str = "place_order", **kwargs: Any) -> ExchangeError:
    with pytest.raises(ExchangeError) as caught:
        await _call(handler, tool, **kwargs)
    return caught.value


async def _transport_error(handler: Handler, tool: str = "place_order", **kwargs: Any) -> TransportError:
    with pytest.raises(TransportError) as caught:
        await _call(handler, tool, **kwargs)
    return caught.value


def _reply(status: int, body: Any = None, *, text: str | None = None, headers: dict[str, str] | None = None) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        if text is not None:
            return httpx.Response(status, text=text, headers=headers)
        if body is None:
            return httpx.Response(status, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    return handler


def _raises(exc: Exception) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


# ------------------------------------------------------------------------------ error replies


async def test_an_error_reply_carries_status_code_msg_and_the_codes_hint():
    error = await _exchange_error(_reply(400, {"code": -1013, "msg": "Filter failure: LOT_SIZE"}))
    assert (error.status, error.code, error.msg) == (400, -1013, "Filter failure: LOT_SIZE")
    assert error.message == "Binance rejected the request (HTTP 400, code -1013): Filter failure: LOT_SIZE"
    assert error.hint == BINANCE_HINTS[-1013]
    assert error.data is None and "data" not in error.to_dict()


async def test_the_data_member_of_an_error_and_the_tools_own_hint_reach_the_caller():
    data = {"cancelResult": "SUCCESS", "newOrderResult": "FAILURE",
            "cancelResponse": {"symbol": "BTCUSDT", "orderId": 7}, "newOrderResponse": {"code": -2010, "msg": "no"}}
    error = await _exchange_error(
        _reply(409, {"code": -2021, "msg": "Order cancel-replace partially failed.", "data": data}),
        "cancel_replace_order", params=[("symbol", "BTCUSDT")], catalog=load_catalog(),
    )
    assert (error.status, error.code) == (409, -2021)
    assert error.data == data and error.to_dict()["data"] == data
    assert error.hint == TOOL_HINTS[(-2021, "cancel_replace_order")]


async def test_a_reply_with_an_error_payload_is_an_error_even_with_http_200():
    error = await _exchange_error(_reply(200, {"code": -2010, "msg": "Account has insufficient balance."}))
    assert (error.status, error.code, error.msg) == (200, -2010, "Account has insufficient balance.")
    assert error.hint == BINANCE_HINTS[-2010]


@pytest.mark.parametrize(
    "body",
    [{"code": 0, "msg": "success"}, {"code": 200, "msg": "ok"}, {"code": -5, "detail": "no msg member"},
     {"code": "-1013", "msg": "a string code"}, {"msg": "no code"}],
    ids=["code-0", "positive-code", "no-msg", "string-code", "no-code"],
)
async def test_a_2xx_reply_is_an_error_only_with_a_negative_integer_code_and_a_msg(body):
    reply = await _call(_reply(200, body), "get_account", [])
    assert reply.status == 200 and reply.data == body


@pytest.mark.parametrize("status", [429, 418])
async def test_a_rate_limit_reply_says_when_to_retry(status):
    error = await _exchange_error(
        _reply(status, {"code": -1003, "msg": "Too much request weight used."}, headers={"Retry-After": "37"}), "get_account", params=[]
    )
    assert error.status == status and error.hint == f"{BINANCE_HINTS[-1003]} Retry after 37 s."


async def test_a_rate_limit_reply_without_a_code_gets_the_http_hint_and_the_retry_time():
    error = await _exchange_error(_reply(429, {}, headers={"Retry-After": "5"}), "get_account", params=[])
    assert error.code is None and error.msg == "Too Many Requests"
    assert error.hint == f"{HTTP_HINTS[429]} Retry after 5 s."


async def test_retry_after_is_only_quoted_for_418_and_429_and_only_when_given():
    without = await _exchange_error(_reply(429, {"code": -1003, "msg": "slow down"}), "get_account", params=[])
    assert without.hint == BINANCE_HINTS[-1003] and "Retry after" not in without.hint
    other = await _exchange_error(
        _reply(400, {"code": -1013, "msg": "Filter failure"}, headers={"Retry-After": "9"}), "get_account", params=[]
    )
    assert other.hint == BINANCE_HINTS[-1013]


async def test_a_5xx_to_a_change_says_the_outcome_is_unknown_and_to_a_read_says_internal_error():
    change = await _exchange_error(_reply(500, {"code": -1000, "msg": "An unknown error occurred."}))
    assert change.status == 500 and change.code == -1000 and change.hint == UNKNOWN_OUTCOME
    read = await _exchange_error(_reply(500, {"code": -1000, "msg": "An unknown error occurred."}), "get_account", params=[])
    assert read.hint == INTERNAL


async def test_a_4xx_to_a_change_keeps_the_ordinary_hint():
    error = await _exchange_error(_reply(499, {"code": -1234, "msg": "something"}))
    assert error.hint == GENERIC


@pytest.mark.parametrize(
    ("status", "handler_args", "msg"),
    [
        (400, {"body": {}}, "Bad Request"),  # no msg: the HTTP reason phrase
        (400, {"body": {"code": -1100, "msg": ""}}, "Bad Request"),  # empty msg: the same
        (502, {"text": "<html>bad gateway</html>"}, "Bad Gateway"),  # not JSON
        (404, {"body": ["not", "an", "object"]}, "Not Found"),  # JSON but not an object
        (499, {"body": {"code": -1, "msg": ""}}, "error"),  # no reason phrase either
    ],
)
async def test_an_error_without_a_message_is_named_by_its_http_status(status, handler_args, msg):
    error = await _exchange_error(_reply(status, **handler_args), "place_order")
    assert error.status == status and error.msg == msg and error.data is None
    assert error.message.endswith(f"): {msg}")


async def test_a_code_that_is_not_an_integer_is_not_reported_as_one():
    error = await _exchange_error(_reply(400, {"code": "-1013", "msg": "odd", "data": "kept"}))
    assert error.code is None and error.msg == "odd" and error.data == "kept"
    assert error.message == "Binance rejected the request (HTTP 400): odd"


async def test_a_message_that_is_not_a_string_is_shown_as_text():
    error = await _exchange_error(_reply(400, {"code": -1100, "msg": 12.5}))
    assert error.msg == "12.5"


# ---------------------------------------------------------------------------- failures in transit


async def test_a_connection_that_cannot_be_made_reached_nothing():
    error = await _transport_error(_raises(httpx.ConnectError("refused")))
    assert error.sent is False
    assert error.message == f"could not connect to {BASE}: ConnectError"
    assert error.hint == "Check the network and the base URL; nothing reached Binance."


@pytest.mark.parametrize("exc", [httpx.ConnectTimeout("slow"), httpx.PoolTimeout("busy")], ids=["connect", "pool"])
async def test_a_timeout_before_sending_reached_nothing(exc):
    error = await _transport_error(_raises(exc))
    assert error.sent is False
    assert error.message == f"no reply from {BASE} in time ({type(exc).__name__})"
    assert error.hint == "Nothing reached Binance; try again later."


@pytest.mark.parametrize("exc", [httpx.ReadTimeout("slow"), httpx.WriteTimeout("slow")], ids=["read", "write"])
async def test_a_timeout_after_sending_a_change_leaves_its_outcome_unknown(exc):
    error = await _transport_error(_raises(exc))
    assert error.sent is True
    assert error.message == f"no reply from {BASE} in time ({type(exc).__name__})"
    assert error.hint == UNKNOWN_OUTCOME


async def test_a_timeout_after_sending_a_read_says_it_is_safe_to_repeat():
    error = await _transport_error(_raises(httpx.ReadTimeout("slow")), "get_account", params=[])
    assert error.sent is True and error.hint == READ_FAILED


async def test_a_broken_connection_may_have_reached_binance():
    error = await _transport_error(_raises(httpx.RemoteProtocolError("peer closed")))
    assert error.sent is True
    assert error.message == f"the connection to {BASE} failed: RemoteProtocolError"
    assert error.hint == UNKNOWN_OUTCOME
    read = await _transport_error(_raises(httpx.ReadError("reset")), "get_account", params=[])
    assert read.sent is True and read.hint == READ_FAILED


@pytest.mark.parametrize("status", [100, 199, 300, 399])
async def test_informational_and_redirect_statuses_at_the_edges_are_not_answers(status):
    error = await _transport_error(_reply(status), "get_account", params=[])
    assert error.sent is True
    assert error.message == f"Binance answered with an unexpected HTTP {status}"
    assert error.hint == READ_FAILED


async def test_a_non_json_success_is_reported_as_such():
    error = await _transport_error(_reply(200, text="<html>ok</html>"))
    assert error.sent is True
    assert error.message == "Binance answered HTTP 200 with a body that is not JSON"
    assert error.hint == UNKNOWN_OUTCOME


# ------------------------------------------------------------------------------- good replies


async def test_a_reply_keeps_decimals_as_text_and_integers_exact():
    raw = '{"price": 0.10000000, "orderId": 123456789012345678901, "fills": [{"qty": 1e-8}]}'
    reply = await _call(_reply(200, text=raw, headers={"X-MBX-USED-WEIGHT-1M": "3"}), "get_account", [])
    assert reply.status == 200 and reply.headers["x-mbx-used-weight-1m"] == "3"
    assert reply.data == {"price": "0.10000000", "orderId": 123456789012345678901, "fills": [{"qty": "1e-8"}]}
