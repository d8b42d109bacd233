"""A reviewer's attacks on the paper desk's promises, each pinned on an in-process market
(``paper_stub``): Binance's reply shapes and codes where the desk answered otherwise (amend,
unknown symbols), and balances that stay whole while many calls on one account run at once
(concurrent orders, a cancel or an amend racing the catch-up that fills the same order)."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path
from typing import Any

import anyio
import pytest
from binance_spot_mcp.catalog.endpoints import load_catalog
from binance_spot_mcp.errors import ExchangeError
from binance_spot_mcp.paper.desk import PaperDesk
from binance_spot_mcp.paper.settings import PaperSettings
from binance_spot_mcp.store import Store

from tests.paper.paper_stub import SYMBOL, StubAccount, StubMarket

pytestmark = pytest.mark.anyio
CATALOG = load_catalog()
ACCOUNT = StubAccount(paper=PaperSettings(balances=(("USDT", D(1000)), ("BTC", D(1)))))
# rest-api.md, "Order Amend Keep Priority": the amendedOrder object
AMENDED_KEYS = {"symbol", "orderId", "orderListId", "origClientOrderId", "clientOrderId", "price", "qty", "executedQty",
                "preventedQty", "quoteOrderQty", "cumulativeQuoteQty", "status", "timeInForce", "type", "side",
                "workingTime", "selfTradePreventionMode"}


def _market() -> StubMarket:
    market = StubMarket()
    market.set_book([(D(99), D(50))], [(D(101), D(50))])
    market.trade(D(100), D(1), False)
    return market


def _desk(tmp_path: Path, market: StubMarket) -> PaperDesk:
    return PaperDesk(Store(tmp_path / "desk.sqlite3"), market.public, clock_ms=lambda: 1_000)


async def _call(desk: PaperDesk, tool: str, symbol: str = SYMBOL, **params: str) -> Any:
    endpoint = CATALOG.get(tool)
    assert endpoint is not None
    return await desk.handle(endpoint, [("symbol", symbol), *params.items()], ACCOUNT)


async def _balances(desk: PaperDesk) -> dict[str, tuple[D, D]]:
    account = await _call(desk, "get_account")
    return {b["asset"]: (D(b["free"]), D(b["locked"])) for b in account["balances"]}


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


# ------------------------------------------------------------------ concurrency inside one process
async def test_many_concurrent_orders_on_one_account_never_overspend(tmp_path):
    desk = _desk(tmp_path, _market())
    outcomes: list[str] = []

    async def buy(index: int) -> None:
        kind = {"side": "BUY", "type": "MARKET", "quantity": "1"} if index % 2 else {
            "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "1", "price": "95"}
        try:
            placed = await _call(desk, "place_order", **kind)
            outcomes.append(placed["status"])
        except ExchangeError as exc:
            assert exc.code == -2010
            outcomes.append("refused")

    with anyio.fail_after(30):
        async with anyio.create_task_group() as group:
            for index in range(20):
                group.start_soon(buy, index)
    balances = await _balances(desk)
    free, locked = balances["USDT"]
    assert free >= 0 and locked >= 0
    bought = balances["BTC"][0] - 1  # 1 BTC less 0.1 % commission per market buy
    market_buys = outcomes.count("FILLED")
    assert bought == market_buys * D("0.999")
    # every USDT is accounted for: spent at 101, locked at 95, or still free
    assert free + locked + market_buys * 101 == 1000
    assert locked == outcomes.count("NEW") * 95
    # 20 orders of at least 95 USDT on 1000: most are refused, and only once too little was free
    assert outcomes.count("refused") >= 10 and free < 101


async def test_a_cancel_racing_the_catch_up_that_fills_the_order_is_one_or_the_other(tmp_path):
    market = _market()
    desk = _desk(tmp_path, market)
    placed = await _call(desk, "place_order", side="BUY", type="LIMIT", timeInForce="GTC", quantity="1", price="99.5")
    market.trade(D(99), D(5), True)  # through its price: the next catch-up fills it
    other = _desk(tmp_path, market)  # a second process on the same database
    results: dict[str, Any] = {}

    async def cancel() -> None:
        try:
            results["cancel"] = await _call(other, "cancel_order", orderId=str(placed["orderId"]))
        except ExchangeError as exc:
            results["cancel"] = exc.code

    with anyio.fail_after(30):
        async with anyio.create_task_group() as group:
            group.start_soon(cancel)
            group.start_soon(_call, desk, "get_open_orders")
    order = await _call(desk, "get_order", orderId=str(placed["orderId"]))
    trades = await _call(desk, "get_my_trades")
    balances = await _balances(desk)
    assert balances["USDT"][1] == 0  # nothing stays locked either way
    if order["status"] == "FILLED":
        assert results["cancel"] == -2011 and len(trades) == 1
        assert balances["USDT"][0] == D(1000) - D("99.5")
    else:
        assert order["status"] == "CANCELED" and trades == [] and balances["USDT"][0] == 1000


async def test_an_amend_racing_the_fill_never_frees_what_the_fill_spends(tmp_path):
    market = _market()
    desk = _desk(tmp_path, market)
    placed = await _call(desk, "place_order", side="BUY", type="LIMIT", timeInForce="GTC", quantity="1", price="99.5")
    market.trade(D(99), D("0.6"), True)  # fills 0.6 of it on the next catch-up
    other = _desk(tmp_path, market)
    with anyio.fail_after(30):
        async with anyio.create_task_group() as group:
            group.start_soon(lambda: _call(other, "amend_order_keep_priority", orderId=str(placed["orderId"]), newQty="0.7"))
            group.start_soon(_call, desk, "get_open_orders")
    await _call(desk, "get_open_orders")
    order = await _call(desk, "get_order", orderId=str(placed["orderId"]))
    free, locked = (await _balances(desk))["USDT"]
    assert (order["origQty"], order["executedQty"]) == ("0.70000000", "0.60000000")
    assert locked == D("0.1") * D("99.5") and free == 1000 - D("0.7") * D("99.5")
    await _call(desk, "cancel_order", orderId=str(placed["orderId"]))  # gives back exactly what is still locked
    assert (await _balances(desk))["USDT"] == (1000 - D("0.6") * D("99.5"), D(0))


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


async def test_an_oco_keeps_its_stop_when_an_older_order_takes_the_trade_its_limit_maker_hoped_for(tmp_path):
    """The first leg to *execute* wins. A trade at the LIMIT_MAKER leg's price that an older order of
    the account at the same price takes whole never reaches the leg: the list must stay whole, its
    stop still guarding the position, and the stop must still sell when the price falls."""
    market = _market()
    desk = _desk(tmp_path, market)
    older = await _call(desk, "place_order", side="SELL", type="LIMIT", timeInForce="GTC", quantity="0.1", price="110")
    oco = await _call(desk, "place_order_list_oco", side="SELL", quantity="0.2", aboveType="LIMIT_MAKER",
                      abovePrice="110", belowType="STOP_LOSS", belowStopPrice="95")
    market.trade(D(110), D("0.1"), False)  # a buyer takes 0.1 at 110: the older order is ahead of the leg
    assert (await _call(desk, "get_order", orderId=str(older["orderId"])))["status"] == "FILLED"
    legs = {o["type"]: o for o in await _call(desk, "get_open_orders")}
    assert set(legs) == {"LIMIT_MAKER", "STOP_LOSS"}, legs  # nothing executed: both legs still open
    market.trade(D(94), D(1), True)  # the fall the stop is there for
    stop = await _call(desk, "get_order", orderId=str(legs["STOP_LOSS"]["orderId"]))
    assert (stop["status"], stop["executedQty"]) == ("FILLED", "0.20000000")
    assert (await _call(desk, "get_order_list", orderListId=str(oco["orderListId"])))["listOrderStatus"] == "ALL_DONE"
    assert (await _balances(desk))["BTC"] == (D("0.7"), D(0))


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


async def test_a_leg_expired_by_its_stop_takes_no_liquidity_from_another_lists_leg(tmp_path):
    """Two SELL OCOs at the same LIMIT_MAKER price. The older list's stop triggers first, so its
    LIMIT_MAKER leg is expired and cannot take the rise that follows: the younger list's leg fills
    and its stop expires. Never a filled leg beside a still-open stop of the same list (that would
    sell the position twice), and every lock matches what is still open."""
    market = _market()
    desk = _desk(tmp_path, market)
    first = await _call(desk, "place_order_list_oco", side="SELL", quantity="0.2", aboveType="LIMIT_MAKER",
                        abovePrice="110", belowType="STOP_LOSS", belowStopPrice="95")
    second = await _call(desk, "place_order_list_oco", side="SELL", quantity="0.2", aboveType="LIMIT_MAKER",
                         abovePrice="110", belowType="STOP_LOSS", belowStopPrice="90")
    market.trade(D("94.5"), D(1), True)  # triggers the first list's stop only
    market.trade(D(110), D("0.2"), False)  # a buyer lifts 0.2 at 110
    await _call(desk, "get_open_orders")
    lists = {}
    for placed in (first, second):
        legs = {o["type"]: await _call(desk, "get_order", orderId=str(o["orderId"])) for o in placed["orderReports"]}
        lists[placed["orderListId"]] = {kind: (leg["status"], leg["executedQty"]) for kind, leg in legs.items()}
    assert lists[first["orderListId"]] == {"STOP_LOSS": ("FILLED", "0.20000000"), "LIMIT_MAKER": ("EXPIRED", "0.00000000")}
    assert lists[second["orderListId"]] == {"STOP_LOSS": ("EXPIRED", "0.00000000"), "LIMIT_MAKER": ("FILLED", "0.20000000")}
    assert (await _balances(desk))["BTC"] == (D("0.6"), D(0))


async def test_a_test_order_with_commission_rates_answers_in_binances_shape(tmp_path):
    """rest-api.md, POST /api/v3/order/test with computeCommissionRates: standard, special and tax
    rates for the order, and the BNB discount."""
    desk = _desk(tmp_path, _market())
    rates = await _call(desk, "test_order", side="BUY", type="MARKET", quantity="0.1", computeCommissionRates="true")
    assert set(rates) - {"environment"} == {"standardCommissionForOrder", "specialCommissionForOrder",
                                            "taxCommissionForOrder", "discount"}
    assert rates["standardCommissionForOrder"] == {"maker": "0.00100000", "taker": "0.00100000"}
    assert rates["specialCommissionForOrder"] == rates["taxCommissionForOrder"] == {"maker": "0.00000000", "taker": "0.00000000"}


async def test_amending_one_oco_leg_keeps_the_list_able_to_pay_for_its_other_leg(tmp_path):
    """An OCO locks its quantity once, for both legs. Amending one leg down must not free what the
    other (unamended) leg may still sell: else, once that BTC is sold elsewhere, the other leg's fill
    cannot be paid, and every later call of the account fails in the catch-up."""
    market = _market()
    desk = _desk(tmp_path, market)
    oco = await _call(desk, "place_order_list_oco", side="SELL", quantity="0.2", aboveType="LIMIT_MAKER",
                      abovePrice="110", belowType="STOP_LOSS", belowStopPrice="95")
    stop = next(o for o in oco["orderReports"] if o["type"] == "STOP_LOSS")
    await _call(desk, "amend_order_keep_priority", orderId=str(stop["orderId"]), newQty="0.1")
    assert (await _balances(desk))["BTC"] == (D("0.8"), D("0.2"))  # the LIMIT_MAKER leg still sells 0.2
    with pytest.raises(ExchangeError):  # the locked 0.2 cannot be sold elsewhere
        await _call(desk, "place_order", side="SELL", type="MARKET", quantity="0.9")
    await _call(desk, "place_order", side="SELL", type="MARKET", quantity="0.8")
    market.trade(D(110), D(1), False)  # the LIMIT_MAKER leg fills whole
    await _call(desk, "get_open_orders")
    maker = next(o for o in oco["orderReports"] if o["type"] == "LIMIT_MAKER")
    assert (await _call(desk, "get_order", orderId=str(maker["orderId"])))["status"] == "FILLED"
    assert (await _balances(desk))["BTC"] == (D(0), D(0))


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


async def test_an_order_may_spend_what_another_symbols_resting_order_has_already_earned(tmp_path):
    """The funds check sees the balances as of now: a BTC sell that the market has filled since the
    last call pays for an ETH buy placed next (the catch-up before an order reads only its own
    symbol; when the balance falls short, the other symbols are caught up before refusing)."""
    from tests.paper.paper_stub import symbol_entry

    btc, eth = _market(), StubMarket(entry=symbol_entry("ETHUSDT", "ETH", "USDT"))
    eth.set_book([(D(9), D(1000))], [(D(10), D(1000))])
    eth.trade(D(10), D(1), False)
    markets = {"BTCUSDT": btc, "ETHUSDT": eth}

    async def public(tool: str, params: Any, base_url: str) -> Any:
        return await markets[dict(params)["symbol"]].public(tool, params, base_url)

    desk = PaperDesk(Store(tmp_path / "desk.sqlite3"), public, clock_ms=lambda: 1_000)
    await _call(desk, "place_order", side="SELL", type="LIMIT", timeInForce="GTC", quantity="1", price="105")
    btc.trade(D(106), D(2), False)  # a buyer lifts it: +105 USDT less 0.1 %
    bought = await _call(desk, "place_order", "ETHUSDT", side="BUY", type="MARKET", quoteOrderQty="1050")
    assert (bought["status"], bought["executedQty"]) == ("FILLED", "105.00000000")
    assert (await _balances(desk))["USDT"] == (D("1104.895") - 1050, D(0))
