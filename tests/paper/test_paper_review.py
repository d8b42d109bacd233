"""A reviewer's attacks on the paper desk's promises, each pinned on an in-process market
(``paper_stub``) or the fake exchange: Binance's reply shapes and codes where the desk answered
otherwise (amend, unknown symbols, cancel-all with an OCO, cancel-replace, test orders), nothing
signed and no key sent for anything that says paper, and Max Daily Value per paper identity."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from binance_spot_mcp.errors import ExchangeError
from binance_spot_mcp.paper.settings import PaperSettings

from tests.paper.paper_stub import SYMBOL
from tests.paper.review_support import (
    ACCOUNT,
    CATALOG,
    _balances,
    _call,
    _desk,
    _market,
)

pytestmark = pytest.mark.anyio
# rest-api.md, "Order Amend Keep Priority": the amendedOrder object
AMENDED_KEYS = {"symbol", "orderId", "orderListId", "origClientOrderId", "clientOrderId", "price", "qty", "executedQty",
                "preventedQty", "quoteOrderQty", "cumulativeQuoteQty", "status", "timeInForce", "type", "side",
                "workingTime", "selfTradePreventionMode"}



# ------------------------------------------------------------------ Binance's shapes and codes
async def test_an_amend_answers_in_binances_amended_order_shape(tmp_path):
    desk = _desk(tmp_path, _market())
    placed = await _call(desk, "place_order", side="BUY", type="LIMIT", timeInForce="GTC", quantity="1", price="90",
                         newClientOrderId="before")
    reply = await _call(desk, "amend_order_keep_priority", orderId=str(placed["orderId"]), newQty="0.4")
    amended = reply["amendedOrder"]
    assert set(amended) - {"environment"} == AMENDED_KEYS
    assert (amended["origClientOrderId"], amended["qty"], amended["cumulativeQuoteQty"]) == (
        "before", "0.40000000", "0.00000000")
    # "If not sent, one will be randomly generated."
    assert amended["clientOrderId"] != "before"
    order = await _call(desk, "get_order", orderId=str(placed["orderId"]))
    assert (order["clientOrderId"], order["origQty"]) == (amended["clientOrderId"], "0.40000000")
    kept = await _call(desk, "amend_order_keep_priority", orderId=str(placed["orderId"]), newQty="0.3",
                       newClientOrderId=amended["clientOrderId"])
    assert kept["amendedOrder"]["clientOrderId"] == amended["clientOrderId"]  # reusing the current id is allowed
    assert (await _balances(desk))["USDT"] == (D(1000) - D(27), D(27))


@pytest.mark.parametrize(("new_qty", "msg"), [
    ("1", "The requested action would change no state; rejecting"),
    ("2", "Order amend (quantity increase) is not supported."),
], ids=["same", "more"])
async def test_an_amend_that_does_not_reduce_is_refused_with_binances_code(tmp_path, new_qty, msg):
    desk = _desk(tmp_path, _market())
    placed = await _call(desk, "place_order", side="BUY", type="LIMIT", timeInForce="GTC", quantity="1", price="90")
    with pytest.raises(ExchangeError) as refused:
        await _call(desk, "amend_order_keep_priority", orderId=str(placed["orderId"]), newQty=new_qty)
    assert (refused.value.code, refused.value.msg) == (-2038, msg)
    assert (await _balances(desk))["USDT"] == (D(910), D(90))


@pytest.mark.parametrize("tool", ["get_order", "cancel_order", "get_my_trades", "get_all_orders", "get_open_orders"])
async def test_an_unknown_symbol_is_an_invalid_symbol_as_on_binance(tmp_path, tool):
    desk = _desk(tmp_path, _market())
    params = {"orderId": "1"} if tool in ("get_order", "cancel_order") else {}
    with pytest.raises(ExchangeError) as refused:
        await _call(desk, tool, symbol="NOPEUSDT", **params)
    assert (refused.value.code, refused.value.msg) == (-1121, "Invalid symbol.")


# ------------------------------------------------------------------ nothing signed, no key sent
def _tools_store(tmp_path: Path, block: str) -> Any:
    from binance_spot_mcp.accounts.store import AccountStore
    from binance_spot_mcp.config import load_settings
    from binance_spot_mcp.redact import Redactor

    path = tmp_path / "TOOLS.md"
    path.write_text(f"## Binance Accounts\n### practice\n- Environment: paper\n{block}")
    path.chmod(0o600)
    return AccountStore(load_settings(tools_file=str(path), environ={}), Redactor())


KEY, SECRET = "k" * 20 + "A1b2C3d4e5F6g7H8i9J0" * 2 + "q" * 4, "s" * 24 + "Z9y8X7w6V5u4T3s2R1q0" * 2


@pytest.mark.parametrize("block", [
    f"- API Key: {KEY}\n- Secret: {SECRET}\n",
    f"- API Key: {KEY}\n",
    f"- Secret: {SECRET}\n",
    "- Private Key File: ./key.pem\n",
    "- Private Key Passphrase: correct-horse\n",
    "- Testnet: true\n",
], ids=["key-and-secret", "key", "secret", "key-file", "passphrase", "testnet"])
def test_a_paper_block_with_a_key_or_secret_is_refused_and_echoes_neither(tmp_path, block):
    from binance_spot_mcp.errors import AccountError

    store = _tools_store(tmp_path, block)
    current = store.current()
    assert "practice" not in current.accounts
    problem = current.broken["practice"].problem
    assert "a paper account takes no" in problem and "remove the line" in problem
    assert KEY not in problem and SECRET not in problem
    with pytest.raises(AccountError):
        store.resolve("practice")


async def test_a_paper_label_with_a_mainnet_base_url_stays_paper_and_sends_no_key(tmp_path):
    import httpx
    from binance_spot_mcp.paper.routing import PaperRoutingClient

    account = _tools_store(tmp_path, "- Base URL: https://api.binance.com\n").resolve("practice")
    assert (account.environment, account.destination, account.is_mainnet) == ("paper", "paper", False)
    seen: list[httpx.Request] = []

    def reply(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"symbol": "BTCUSDT", "price": "60000.00"})

    client = PaperRoutingClient(catalog=CATALOG, state_dir=tmp_path, skill_version="1.0", transport=httpx.MockTransport(reply))
    try:
        answered = await client.call(CATALOG.get("get_account"), [], base_url=account.base_url, account=account)
        price = await client.call(CATALOG.get("get_ticker_price"), [("symbol", "BTCUSDT")], base_url=account.base_url,
                                  account=account)
    finally:
        await client.aclose()
    assert answered.data["environment"] == "paper" and price.data["price"] == "60000.00"
    assert [r.url.path for r in seen] == ["/api/v3/ticker/price"]  # only the public read left, with no key
    assert "x-mbx-apikey" not in seen[0].headers and "signature" not in str(seen[0].url)


async def test_an_account_labelled_paper_is_answered_by_the_desk_whatever_its_signer(tmp_path):
    """The routing must not hang on one field: an account that says paper (its environment, its
    paper settings) is never signed for and sent, even if its signer were a real one."""
    from types import SimpleNamespace

    import httpx
    from binance_spot_mcp.exchange.signing import HmacSigner
    from binance_spot_mcp.paper.routing import PaperRoutingClient

    seen: list[httpx.Request] = []

    def reply(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"balances": [], "real": True})

    mislabelled = SimpleNamespace(name="practice", environment="paper", base_url="https://api.binance.com",
                                  signer=HmacSigner("s" * 64), api_key="k" * 64, paper=PaperSettings())
    client = PaperRoutingClient(catalog=CATALOG, state_dir=tmp_path, skill_version="1.0", transport=httpx.MockTransport(reply))
    try:
        answered = await client.call(CATALOG.get("get_account"), [], base_url=mislabelled.base_url, account=mislabelled)
    finally:
        await client.aclose()
    assert seen == [] and answered.data["environment"] == "paper"


# ------------------------------------------------------------------ guard rails per paper identity
async def test_max_daily_value_is_one_budget_for_a_paper_name_across_tools_files_sharing_a_state_dir(tmp_path, fake_exchange):
    """Two servers, each with its own TOOLS.md naming a paper account 'practice', one state
    directory: they trade one paper ledger, so they spend one daily budget, not one each. Another
    paper name keeps its own budget."""
    from tests.e2e_support import memory_client, result_json
    from tests.paper.paper_support import signed_requests, write_paper_tools

    state = tmp_path / "state"
    state.mkdir()
    shared = {"BINANCE_SPOT_MCP_JOURNAL": str(state / "journal.jsonl")}
    big = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.01"}  # ~600 USDT at the fake's ask

    def block(name: str) -> str:
        return (f"### {name}\n- Environment: paper\n- Base URL: {fake_exchange.base_url}\n"
                "- Paper Balances: 10000 USDT\n- Max Daily Value: 1000 USDT\n")

    files = []
    for folder, names in (("one", ["practice"]), ("two", ["practice", "other"])):
        (tmp_path / folder).mkdir()
        files.append(write_paper_tools(tmp_path / folder, fake_exchange.base_url, *[block(n) for n in names]))
    async with memory_client(files[0], "legacy", fake_exchange.base_url, extra_env=shared) as first, \
            memory_client(files[1], "legacy", fake_exchange.base_url, extra_env=shared) as second:
        placed = result_json(await first.call_tool("place_order", {**big, "account": "practice"}))
        assert placed["status"] == "FILLED"
        again = await second.call_tool("place_order", {**big, "account": "practice"})
        assert again.is_error and result_json(again)["rule"] == "max daily value", again
        orders = result_json(await second.call_tool("get_all_orders", {"symbol": "BTCUSDT", "account": "practice"}))
        assert [o["orderId"] for o in orders] == [placed["orderId"]]  # one ledger: the second sees the first's order
        other = result_json(await second.call_tool("place_order", {**big, "account": "other"}))
        assert other["status"] == "FILLED"
    assert signed_requests(fake_exchange) == []


async def test_cancel_open_orders_reports_an_oco_as_one_list_with_its_order_reports(tmp_path):
    """rest-api.md, DELETE /api/v3/openOrders: a plain order comes back as its cancel report, an
    order list as one list status holding an orderReports entry per leg (as the fake answers)."""
    desk = _desk(tmp_path, _market())
    plain = await _call(desk, "place_order", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.5", price="90")
    oco = await _call(desk, "place_order_list_oco", side="SELL", quantity="0.2", aboveType="LIMIT_MAKER",
                      abovePrice="110", belowType="STOP_LOSS", belowStopPrice="95")
    canceled = await _call(desk, "cancel_open_orders")
    assert len(canceled) == 2
    single = next(c for c in canceled if "contingencyType" not in c)
    assert (single["orderId"], single["status"]) == (plain["orderId"], "CANCELED")
    listed = next(c for c in canceled if "contingencyType" in c)
    assert (listed["orderListId"], listed["listStatusType"], listed["listOrderStatus"]) == (
        oco["orderListId"], "ALL_DONE", "ALL_DONE")
    assert sorted(r["orderId"] for r in listed["orderReports"]) == sorted(o["orderId"] for o in oco["orders"])
    assert {r["status"] for r in listed["orderReports"]} == {"CANCELED"}
    assert await _balances(desk) == {"USDT": (D(1000), D(0)), "BTC": (D(1), D(0))}


async def test_cancel_replace_checks_the_new_orders_filters_before_it_cancels_anything(tmp_path):
    """rest-api.md, cancelReplace: "Filters and Order Count are evaluated before the processing of
    the cancellation and order placement occurs." A new order off the tick fails as a plain -1013
    and the order it was to replace keeps resting (the desk checks filters itself when the server's
    local check is off)."""
    desk = _desk(tmp_path, _market())
    resting = await _call(desk, "place_order", side="BUY", type="LIMIT", timeInForce="GTC", quantity="1", price="90")
    with pytest.raises(ExchangeError) as refused:
        await _call(desk, "cancel_replace_order", cancelReplaceMode="STOP_ON_FAILURE", cancelOrderId=str(resting["orderId"]),
                    side="BUY", type="LIMIT", timeInForce="GTC", quantity="1", price="91.005")
    assert (refused.value.code, refused.value.msg) == (-1013, "Filter failure: PRICE_FILTER")
    assert (await _call(desk, "get_order", orderId=str(resting["orderId"])))["status"] == "NEW"
    assert (await _balances(desk))["USDT"] == (D(910), D(90))


async def test_a_quote_market_order_on_an_empty_book_is_refused_as_on_binance(tmp_path):
    """errors.md (-2010): "Order book liquidity is less than symbol minimum quantity." - a
    quoteOrderQty MARKET order cannot be placed when there is nothing on the book to fill it (the
    fake answers so too); no EXPIRED order of nothing is recorded."""
    market = _market()
    market.set_book([(D(99), D(50))], [])
    desk = _desk(tmp_path, market)
    with pytest.raises(ExchangeError) as refused:
        await _call(desk, "place_order", side="BUY", type="MARKET", quoteOrderQty="100")
    assert (refused.value.code, refused.value.msg) == (-2010, "Order book liquidity is less than symbol minimum quantity.")
    assert await _call(desk, "get_all_orders") == []
    assert (await _balances(desk))["USDT"] == (D(1000), D(0))


async def test_a_canceled_stops_report_names_its_stop_price(tmp_path):
    """rest-api.md, conditional fields in order responses: a stop order's cancel report carries
    stopPrice (the fake's does); a plain LIMIT's does not."""
    desk = _desk(tmp_path, _market())
    stop = await _call(desk, "place_order", side="SELL", type="STOP_LOSS", quantity="0.1", stopPrice="95")
    plain = await _call(desk, "place_order", side="SELL", type="LIMIT", timeInForce="GTC", quantity="0.1", price="120")
    canceled = await _call(desk, "cancel_order", orderId=str(stop["orderId"]))
    assert (canceled["status"], canceled["stopPrice"]) == ("CANCELED", "95.00000000")
    assert "stopPrice" not in await _call(desk, "cancel_order", orderId=str(plain["orderId"]))


async def test_a_test_order_with_commission_rates_answers_in_binances_shape(tmp_path):
    """rest-api.md, POST /api/v3/order/test with computeCommissionRates: standard, special and tax
    rates for the order, and the BNB discount."""
    desk = _desk(tmp_path, _market())
    rates = await _call(desk, "test_order", side="BUY", type="MARKET", quantity="0.1", computeCommissionRates="true")
    assert set(rates) - {"environment"} == {"standardCommissionForOrder", "specialCommissionForOrder",
                                            "taxCommissionForOrder", "discount"}
    assert rates["standardCommissionForOrder"] == {"maker": "0.00100000", "taker": "0.00100000"}
    assert rates["specialCommissionForOrder"] == rates["taxCommissionForOrder"] == {"maker": "0.00000000", "taker": "0.00000000"}


async def test_an_amended_oco_leg_answers_with_its_list_status(tmp_path):
    """rest-api.md, amend of an order in an order list: the reply carries listStatus (without
    listStatusType and transactionTime), as the fake's does."""
    desk = _desk(tmp_path, _market())
    oco = await _call(desk, "place_order_list_oco", side="SELL", quantity="0.2", aboveType="LIMIT_MAKER",
                      abovePrice="110", belowType="STOP_LOSS", belowStopPrice="95")
    maker = next(o for o in oco["orderReports"] if o["type"] == "LIMIT_MAKER")
    reply = await _call(desk, "amend_order_keep_priority", orderId=str(maker["orderId"]), newQty="0.1")
    status = reply["listStatus"]
    assert (status["orderListId"], status["contingencyType"], status["listOrderStatus"]) == (
        oco["orderListId"], "OCO", "EXECUTING")
    assert "listStatusType" not in status and "transactionTime" not in status
    plain = await _call(desk, "place_order", side="SELL", type="LIMIT", timeInForce="GTC", quantity="0.1", price="120")
    assert "listStatus" not in await _call(desk, "amend_order_keep_priority", orderId=str(plain["orderId"]), newQty="0.05")


async def test_get_order_amendments_lists_each_amend_of_the_order(tmp_path):
    """rest-api.md, GET /api/v3/order/amendments: one entry per amend, oldest first, with the
    client ids and quantities before and after (not an empty list after an amend)."""
    desk = _desk(tmp_path, _market())
    placed = await _call(desk, "place_order", side="BUY", type="LIMIT", timeInForce="GTC", quantity="1", price="90",
                         newClientOrderId="first")
    one = await _call(desk, "amend_order_keep_priority", orderId=str(placed["orderId"]), newQty="0.6", newClientOrderId="second")
    two = await _call(desk, "amend_order_keep_priority", orderId=str(placed["orderId"]), newQty="0.5", newClientOrderId="third")
    other = await _call(desk, "place_order", side="BUY", type="LIMIT", timeInForce="GTC", quantity="1", price="80")
    assert await _call(desk, "get_order_amendments", orderId=str(other["orderId"])) == []
    assert await _call(desk, "get_order_amendments", orderId=str(placed["orderId"])) == [
        {"symbol": SYMBOL, "orderId": placed["orderId"], "executionId": one["executionId"], "origClientOrderId": "first",
         "newClientOrderId": "second", "origQty": "1.00000000", "newQty": "0.60000000", "time": 1_000},
        {"symbol": SYMBOL, "orderId": placed["orderId"], "executionId": two["executionId"], "origClientOrderId": "second",
         "newClientOrderId": "third", "origQty": "0.60000000", "newQty": "0.50000000", "time": 1_000},
    ]
    assert one["executionId"] != two["executionId"]
    desk.ledger.reset(ACCOUNT.name)  # a reset forgets them with the order
    with desk.ledger.store.read() as db:
        assert db.execute("SELECT COUNT(*) FROM paper_amendments").fetchone()[0] == 0


@pytest.mark.parametrize("tool", ["cancel_order", "cancel_replace_order"])
async def test_cancel_restrictions_keep_an_order_of_the_other_status(tmp_path, tool):
    """rest-api.md, cancelRestrictions: ONLY_NEW cancels only a NEW order, ONLY_PARTIALLY_FILLED only
    a partially filled one; otherwise -2011 'Order was not canceled due to cancel restrictions.' (the
    fake's answer) and the order keeps resting."""
    desk = _desk(tmp_path, _market())
    resting = await _call(desk, "place_order", side="BUY", type="LIMIT", timeInForce="GTC", quantity="1", price="90")
    if tool == "cancel_order":
        params = {"orderId": str(resting["orderId"])}
    else:
        params = {"cancelReplaceMode": "STOP_ON_FAILURE", "cancelOrderId": str(resting["orderId"]), "side": "BUY",
                  "type": "LIMIT", "timeInForce": "GTC", "quantity": "1", "price": "91"}
    with pytest.raises(ExchangeError) as refused:
        await _call(desk, tool, cancelRestrictions="ONLY_PARTIALLY_FILLED", **params)
    reason = refused.value.data["cancelResponse"] if tool == "cancel_replace_order" else {
        "code": refused.value.code, "msg": refused.value.msg}
    assert reason == {"code": -2011, "msg": "Order was not canceled due to cancel restrictions."}
    assert (await _call(desk, "get_order", orderId=str(resting["orderId"])))["status"] == "NEW"
    assert (await _call(desk, tool, cancelRestrictions="ONLY_NEW", **params))  # a NEW order: canceled
    assert (await _call(desk, "get_order", orderId=str(resting["orderId"])))["status"] == "CANCELED"
