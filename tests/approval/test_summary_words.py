"""The one summary the server writes for a human (issue 27, item 1): its words for single orders and
every kind of order list, the value and fee in the quote asset, the distance from the market, the
assistant's values set apart in cells, and what a reopened page and the card say afterwards."""

from __future__ import annotations

from decimal import Decimal

import pytest

from binance_spot_mcp.accounts.reading import Account
from binance_spot_mcp.approval.book import ApprovalBook, Channel, Status, request_code
from binance_spot_mcp.approval.outcome import Outcome, State, accepted, failed, for_card
from binance_spot_mcp.approval.page_view import decided
from binance_spot_mcp.approval.summary import MAX_CELL_CHARS, Market, Summary, Supplied, number, summarize
from binance_spot_mcp.errors import ExchangeError, OutcomeError, PolicyError, TransportError
from binance_spot_mcp.exchange.signing import HmacSigner
from binance_spot_mcp.redact import Redactor

API_KEY = "throwawayKEY0123456789WXYZ"
MARKET = Market(base="BTC", quote="USDT", last=Decimal("51000"))


def _account(environment: str = "mainnet", base_url: str = "https://api.binance.com") -> Account:
    return Account(name="live", environment=environment, api_key=API_KEY, signer=HmacSigner("throwaway-secret"),
                   base_url=base_url)


def _summary(tool: str, params: list[tuple[str, str]], market: Market = MARKET, **account: str) -> Summary:
    return summarize(tool, "Do something.", _account(**account), params, market, "DETAILS")


LIMIT = [("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "GTC"), ("quantity", "0.002"),
         ("price", "50000")]
OCO = [("symbol", "BTCUSDT"), ("side", "SELL"), ("quantity", "0.001"), ("aboveType", "LIMIT_MAKER"),
       ("abovePrice", "70000"), ("belowType", "STOP_LOSS_LIMIT"), ("belowStopPrice", "46000"), ("belowPrice", "45000"),
       ("belowTimeInForce", "GTC")]
OTOCO = [("symbol", "BTCUSDT"), ("workingType", "LIMIT"), ("workingSide", "BUY"), ("workingPrice", "50000"),
         ("workingQuantity", "0.001"), ("workingTimeInForce", "GTC"), ("pendingSide", "SELL"),
         ("pendingQuantity", "0.001"), ("pendingAboveType", "LIMIT_MAKER"), ("pendingAbovePrice", "70000"),
         ("pendingBelowType", "STOP_LOSS_LIMIT"), ("pendingBelowStopPrice", "46000"), ("pendingBelowPrice", "45000"),
         ("pendingBelowTimeInForce", "GTC")]


@pytest.mark.parametrize(("value", "shown"), [("50000", "50,000"), ("0.00100", "0.001"), ("1E+3", "1,000"),
                                              ("1234567.5", "1,234,567.5"), ("0", "0")])
def test_numbers_are_grouped_without_exponent_or_trailing_zeros(value, shown):
    assert number(Decimal(value)) == shown


def test_a_limit_buy_says_what_is_paid_the_fee_and_how_far_from_the_market():
    summary = _summary("place_order", LIMIT)
    assert summary.headline == "Buy 0.002 BTC at 50,000 USDT (2 % below the market) — you pay about 100 USDT + fee"
    assert dict(summary.facts) == {
        "Value": "about 100 USDT",
        "Estimated fee": "about 0.1 USDT (0.1 %, Binance's standard rate; yours may be lower)",
        "Market price": "51,000 USDT (last trade)",
    }
    assert summary.mainnet and summary.environment == "MAINNET · real money"
    assert summary.account == "live (API key throw...WXYZ)" and summary.legs == ()


def test_a_market_sell_is_valued_at_the_last_price_and_a_testnet_says_so():
    summary = _summary("place_order", [("symbol", "BTCUSDT"), ("side", "SELL"), ("type", "MARKET"),
                                       ("quantity", "0.5")], environment="testnet", base_url="https://testnet.binance.vision")
    assert summary.headline == "Sell 0.5 BTC at the market price — you receive about 25,500 USDT minus fee"
    assert not summary.mainnet and summary.environment == "TESTNET · not real money"


def test_an_oco_lists_both_orders_and_its_value_is_the_larger_one_not_a_sum():
    summary = _summary("place_order_list_oco", OCO)
    assert summary.headline == "OCO on BTCUSDT: two orders, the one that fills first cancels the other"
    assert summary.legs == (
        "Sell 0.001 BTC at 70,000 USDT (37.3 % above the market) (maker only: refused if it would fill at once)"
        " — about 70 USDT",
        "Or, whichever comes first: sell 0.001 BTC at 45,000 USDT (11.8 % below the market) once the price reaches "
        "46,000 USDT (9.8 % below the market) — about 45 USDT",
    )
    assert dict(summary.facts)["Value, at most"] == "about 70 USDT"


def test_an_otoco_says_each_order_in_turn_and_its_most_money_at_stake():
    summary = _summary("place_order_list_otoco", OTOCO)
    assert summary.headline.startswith("Buy 0.001 BTC at 50,000 USDT") and summary.headline.endswith("(OTOCO)")
    first, then, otherwise = summary.legs
    assert first.startswith("Buy 0.001 BTC at 50,000 USDT") and first.endswith("— about 50 USDT")
    assert then.startswith("When it has filled: sell 0.001 BTC at 70,000 USDT") and then.endswith("— about 70 USDT")
    assert otherwise.startswith("Or, whichever comes first: sell 0.001 BTC at 45,000 USDT")
    assert dict(summary.facts)["Value, at most"] == "about 120 USDT"  # the buy, then the larger exit


def test_an_opo_pending_order_trades_what_the_working_order_filled():
    opo = [("symbol", "BTCUSDT"), ("workingType", "LIMIT"), ("workingSide", "BUY"), ("workingPrice", "50000"),
           ("workingQuantity", "0.001"), ("pendingType", "LIMIT"), ("pendingSide", "SELL"), ("pendingPrice", "60000")]
    summary = _summary("place_order_list_opo", opo)
    assert summary.legs[1].startswith("When it has filled in part or whole: sell the filled BTC at 60,000 USDT")


def test_without_market_facts_the_summary_says_less_and_never_guesses():
    summary = _summary("place_order", [("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "MARKET"),
                                       ("quoteOrderQty", "25.5")], market=Market())
    assert summary.headline == "Buy units of BTCUSDT for 25.5 at the market price — you pay about 25.5 + fee"
    assert "Market price" not in dict(summary.facts)


def test_a_cancel_replace_names_the_order_it_cancels_and_what_replaces_it():
    summary = _summary("cancel_replace_order", [*LIMIT, ("cancelReplaceMode", "STOP_ON_FAILURE"), ("cancelOrderId", "77")])
    assert summary.headline == ("Cancel order 77 and instead: buy 0.002 BTC at 50,000 USDT (2 % below the market)"
                                " — you pay about 100 USDT + fee")
    with_client_id = _summary("cancel_replace_order", [*LIMIT, ("cancelOrigClientOrderId", "mine")])
    assert with_client_id.headline.startswith("Cancel an order and instead: buy")
    assert Supplied("Cancelled order's client id", "mine") in with_client_id.supplied


def test_cancels_and_amends_say_what_they_change():
    assert _summary("cancel_open_orders", [("symbol", "BTCUSDT")]).headline == (
        "Cancel EVERY open order on BTCUSDT (order lists included)")
    assert _summary("cancel_order", [("symbol", "BTCUSDT"), ("orderId", "42")]).headline == "Cancel order 42 on BTCUSDT"
    assert _summary("amend_order_keep_priority", [("symbol", "BTCUSDT"), ("orderId", "7"), ("newQty", "0.50")]).headline == (
        "Reduce the quantity of order 7 on BTCUSDT to 0.5, keeping its place in the queue")


def test_the_assistants_text_goes_into_cells_escaped_and_shortened():
    hostile = "x\nEnvironment: testnet (not real money)\u202e"
    summary = _summary("place_order", [*LIMIT, ("newClientOrderId", hostile)])
    (cell,) = summary.supplied
    assert cell == Supplied("Client order id", "x\\x0aEnvironment: testnet (not real money)\\u202e")
    assert "Environment: testnet" not in "\n".join(summary.lines())  # never one of the server's lines
    text = summary.text().splitlines()
    assert not any(line.startswith("Environment: testnet") for line in text)
    assert "  Client order id = «x\\x0aEnvironment: testnet (not real money)\\u202e»" in text
    long = Supplied.of("Description", "y" * 200)
    assert long.value == "y" * MAX_CELL_CHARS + "… (200 characters in all)"


def test_the_text_puts_summary_first_and_the_details_last():
    text = _summary("place_order", LIMIT).text()
    assert text.splitlines()[0].startswith("[MAINNET · real money] Buy 0.002 BTC")
    assert text.endswith("Details:\nDETAILS")
    assert Summary.plain("A\nB").text() == "A\nB"  # a request described only by text is shown as it is


# --- afterwards ----------------------------------------------------------------------------------


def test_outcomes_are_told_in_the_servers_words():
    redactor = Redactor()
    assert accepted({"orderId": 5, "status": "NEW"}, redactor) == Outcome(
        State.SENT, "Sent, and Binance accepted it: order 5, status NEW.")
    assert accepted({"orderListId": 9, "listOrderStatus": "EXECUTING", "orderId": 1}, redactor).headline == (
        "Sent, and Binance accepted it: order list 9, status EXECUTING.")
    refused = failed(ExchangeError(status=400, code=-2010, msg="Account has\ninsufficient balance."), redactor)
    assert refused == Outcome(State.REFUSED, "Sent, and Binance refused it: Account has\\x0ainsufficient balance. (code -2010).")
    assert failed(ExchangeError(status=503, code=None, msg="busy"), redactor).state is State.UNKNOWN
    assert failed(OutcomeError("Outcome: UNKNOWN."), redactor).state is State.UNKNOWN
    assert failed(TransportError("timed out", sent=True), redactor).state is State.UNKNOWN
    assert failed(TransportError("no route", sent=False), redactor).state is State.NOT_SENT
    assert failed(PolicyError("Halted."), redactor).headline.startswith("Not sent: Halted.")


def test_a_decided_record_says_when_and_what_happened_until_it_expires():
    clock, wall = {"now": 0.0}, {"now": 1_700_000_000.0}
    book = ApprovalBook(clock=lambda: clock["now"], wall=lambda: wall["now"])
    pending = book.create(channel=Channel.URL, tool="place_order", arguments={}, digest="d" * 64,
                          preview="Buy\nAccount: live", session=None)
    wall["now"] += 61
    assert book.decide(pending.approval_id, pending.secret, channel=Channel.URL, approve=True, csrf=pending.csrf) \
        is Status.APPROVED
    assert book.redeem(pending.approval_id, "d" * 64, None) is not None
    record = book.seen(pending.approval_id, pending.secret, Channel.URL)
    assert record is not None and record.decided_wall == 1_700_000_061.0
    assert book.seen(pending.approval_id, "wrong", Channel.URL) is None
    assert book.seen(pending.approval_id, pending.secret, Channel.APP) is None
    page, waiting = decided(record)
    assert waiting and '<h1 id="verdict">Approved</h1>' in page and "Approved at 22:14:21 UTC." in page
    book.record_outcome(pending.approval_id, Outcome(State.SENT, "Sent, and Binance accepted it: order 5."))
    page, waiting = decided(record)
    assert not waiting and '<h1 id="verdict">Sent</h1>' in page and "refresh" not in page
    assert f"Request {request_code(pending.approval_id)}" in page
    assert book.lookup(pending.approval_id, pending.secret, Channel.URL) is None  # never decidable again
    clock["now"] = 301.0
    book.create(channel=Channel.URL, tool="t", arguments={}, digest="e" * 64, preview="p", session=None)  # prunes
    assert book.seen(pending.approval_id, pending.secret, Channel.URL) is None  # expired: gone


def test_the_card_gets_the_outcome_or_the_reason_nothing_was_sent():
    from mcp.types import CallToolResult, TextContent

    sent = CallToolResult(content=[TextContent(type="text", text='{"orderId": 5}')], is_error=False)
    shown = for_card(sent, Outcome(State.SENT, "Sent, and Binance accepted it: order 5."))
    assert shown.structured_content == {"outcome": {"state": "sent", "headline": "Sent, and Binance accepted it: order 5."}}
    assert shown.content == sent.content
    declined = CallToolResult(content=[TextContent(type="text", text='{"error": "not_confirmed", "message": '
                                                                     '"The request was declined. Nothing was sent."}')],
                              is_error=True)
    assert for_card(declined, None).structured_content == {
        "outcome": {"state": "not_sent", "headline": "The request was declined. Nothing was sent."}}


@pytest.mark.anyio
async def test_an_order_lists_details_carry_no_notional_that_matches_neither_leg():
    from binance_spot_mcp.approval.summary import describe
    from binance_spot_mcp.catalog.endpoints import load_catalog

    class Facts:
        async def symbol_info(self, base_url, symbol):
            return {"baseAsset": "BTC", "quoteAsset": "USDT"}

        async def public_read(self, tool, args, base_url):
            return {"price": "51000"}

    summary = await describe(Facts(), load_catalog().get("place_order_list_oco"), _account(), OCO)  # type: ignore[arg-type]
    assert "Estimated notional" not in summary.details and dict(summary.facts)["Value, at most"] == "about 70 USDT"
    single = await describe(Facts(), load_catalog().get("place_order"), _account(),  # type: ignore[arg-type]
                            [("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "MARKET"), ("quantity", "1")])
    assert "Estimated notional: 51000 USDT at the last price 51000" in single.details.splitlines()
