"""The words of an approval, without a server: CONFIRM itself, the preview a human reads (every
model-supplied value escaped, so no argument can forge a line), single-use nonces and the chat
path's confirmation tokens (bound to one request, once, and told apart when from an earlier run).

Time is a fake clock handed to ``NonceBook``; nothing sleeps. Keys are throwaway.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from binance_spot_mcp.accounts.reading import Account
from binance_spot_mcp.approval.confirm import (
    ConfirmationTokens,
    NonceBook,
    PendingState,
    TokenCheck,
    escape_text,
    estimated_notional,
    is_confirm_text,
    preview,
)
from binance_spot_mcp.exchange.signing import HmacSigner

API_KEY = "throwawayKEY0123456789abcdefWXYZ"
DIGEST = "a" * 64


class Clock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


def _account(name: str = "live", environment: str = "mainnet", base_url: str = "https://api.binance.com") -> Account:
    return Account(name=name, environment=environment, api_key=API_KEY, signer=HmacSigner("throwaway-secret"),
                   base_url=base_url)


# --- CONFIRM ----------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["CONFIRM", " CONFIRM ", "  CONFIRM"])
def test_confirm_surrounding_ascii_spaces_aside_approves(text):
    assert is_confirm_text(text)


@pytest.mark.parametrize("text", ["confirm", "Confirm", "CONFIRMED", "do NOT CONFIRM", "C ONFIRM", "", None,
                                  b"CONFIRM", ["CONFIRM"], True, "\tCONFIRM\n", "\u00a0CONFIRM", "CONFIRM\u3000",
                                  "\u200bCONFIRM"])
def test_anything_else_does_not(text):
    assert not is_confirm_text(text)


# --- escaping ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("BTCUSDT", "BTCUSDT"),
        ("a b-c_d.é€", "a b-c_d.é€"),  # printable text, non-ASCII included, is shown as it is
        ("BTC\nAccount: main", "BTC\\x0aAccount: main"),  # a forged line
        ("x\r\ny", "x\\x0d\\x0ay"),
        ("\x1b[31mred", "\\x1b[31mred"),  # terminal escape
        ("\x7f\x85\xa0\xad", "\\x7f\\x85\\xa0\\xad"),  # DEL, NEL, no-break space, soft hyphen
        ("abc\u202edcb", "abc\\u202edcb"),  # right-to-left override
        ("\u2066x\u2069", "\\u2066x\\u2069"),  # bidi isolates
        ("a\u200bb", "a\\u200bb"),  # zero-width space
        ("\u2028", "\\u2028"),  # line separator
        ("\ufeff\uffff", "\\ufeff\\uffff"),
        ("\U000e0041", "\\U000e0041"),  # tag character
        ("\U0010fffd", "\\U0010fffd"),  # private use, plane 16
        ("\U0001f600", "\U0001f600"),  # printable beyond the BMP
    ],
)
def test_non_printing_characters_are_escaped(raw, shown):
    assert escape_text(raw) == shown
    assert escape_text(raw).isprintable()


def test_non_strings_are_shown_as_text():
    assert escape_text(5) == "5" and escape_text(Decimal("0.10")) == "0.10" and escape_text(None) == "None"


# --- notional ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "last", "expected"),
    [
        ({"quantity": "0.002", "price": "50000"}, None, Decimal("100")),
        ({"quantity": "0.002", "price": "50000"}, "1", Decimal("100")),  # the order's own price wins
        ({"quantity": "2"}, "30.5", Decimal("61")),
        ({"newQty": "3", "price": "2"}, None, Decimal("6")),
        ({"quantity": "", "newQty": "3", "price": "2"}, None, Decimal("6")),
        ({"quantity": "1", "price": ""}, "7", Decimal("7")),
        ({"quoteOrderQty": "25", "quantity": "1", "price": "2"}, "9", Decimal("25")),
        ({"quoteOrderQty": "", "quantity": "1", "price": "2"}, None, Decimal("2")),
    ],
)
def test_the_notional_is_estimated_where_it_can_be_known(params, last, expected):
    assert estimated_notional(params, last) == expected


@pytest.mark.parametrize(
    ("params", "last"),
    [
        ({"quantity": "2"}, None),  # a market order without a last price
        ({"price": "2"}, "2"),  # no quantity
        ({}, "2"),
        ({"quantity": "abc", "price": "2"}, None),
        ({"quantity": "2", "price": "2,5"}, None),
        ({"quantity": "2"}, "n/a"),
        ({"quoteOrderQty": "lots"}, None),
    ],
)
def test_no_notional_where_it_cannot_be_known(params, last):
    assert estimated_notional(params, last) is None


# --- preview ----------------------------------------------------------------------------------


def test_the_preview_says_what_will_be_sent_in_the_servers_words():
    params = [("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "GTC"),
              ("quantity", "0.002"), ("price", "50000.00"), ("newClientOrderId", "my-1"), ("recvWindow", "5000")]
    text = preview("Place an order (place_order)", _account(), params, last_price="49000", quote_asset="USDT")
    assert text.split("\n") == [
        "Place an order (place_order)",
        "Account: live (MAINNET, real money; API key throw...WXYZ)",
        "Destination: api.binance.com",
        "Symbol: BTCUSDT",
        "Side: BUY",
        "Type: LIMIT",
        "Quantity: 0.002",
        "Price: 50000.00",
        "Time in force: GTC",
        "Other parameters: newClientOrderId=my-1, recvWindow=5000",
        "Estimated notional: 100 USDT",
        "Type CONFIRM to send it; anything else cancels.",
    ]
    assert API_KEY not in text


def test_every_field_has_its_label():
    fields = ["symbol", "side", "type", "quantity", "quoteOrderQty", "price", "stopPrice", "timeInForce", "orderId",
              "origClientOrderId", "orderListId", "newQty"]
    text = preview("T", _account(), [(name, f"v{i}") for i, name in enumerate(fields)])
    labels = ["Symbol", "Side", "Type", "Quantity", "Quote amount", "Price", "Stop price", "Time in force",
              "Order id", "Client order id", "Order list id", "New quantity"]
    assert [line for line in text.split("\n")[3:-1]] == [f"{label}: v{i}" for i, label in enumerate(labels)]


def test_a_market_order_is_estimated_at_the_last_price_and_says_so():
    text = preview("T", _account(), [("symbol", "BTCUSDT"), ("quantity", "0.5")], last_price="20000",
                   quote_asset="USDT")
    assert "Estimated notional: 10000 USDT at the last price 20000" in text.split("\n")
    quote = preview("T", _account(), [("quoteOrderQty", "25.50")], last_price="20000")
    assert "Estimated notional: 25.5" in quote.split("\n")  # its own amount: no "at the last price", no asset
    bare = preview("T", _account(), [("symbol", "BTCUSDT"), ("quantity", "0.5")])
    assert "Estimated notional" not in bare and "Other parameters" not in bare


@pytest.mark.parametrize(
    ("environment", "base_url", "said"),
    [
        ("mainnet", "https://api.binance.com", "MAINNET, real money"),
        ("testnet", "https://api.binance.com", "MAINNET, real money"),  # the destination decides
        ("mainnet", "http://127.0.0.1:9000", "MAINNET, real money"),  # so does a mainnet label
        ("testnet", "https://testnet.binance.vision", "TESTNET, not real money"),
        ("demo", "https://demo-api.binance.com", "DEMO, not real money"),
        ("testnet", "http://127.0.0.1:9000", "TESTNET, not real money"),
    ],
)
def test_the_preview_says_whether_real_money_is_at_stake(environment, base_url, said):
    account_line = preview("T", _account(environment=environment, base_url=base_url), []).split("\n")[1]
    assert account_line == f"Account: live ({said}; API key throw...WXYZ)"


def test_the_destination_is_the_host_or_the_base_url_as_given():
    assert preview("T", _account(base_url="http://127.0.0.1:9000/api"), []).split("\n")[2] == "Destination: 127.0.0.1:9000"
    assert preview("T", _account(base_url="odd"), []).split("\n")[2] == "Destination: odd"


def test_no_model_supplied_value_can_add_or_forge_a_line():
    hostile = "x\nAccount: main (TESTNET, not real money)\u202e"
    params = [("symbol", hostile), ("side", hostile), (hostile, hostile), ("quantity", "1")]
    text = preview("T", _account(name="li\nve"), params, last_price="2\n3", quote_asset="US\u2066DT")
    lines = text.split("\n")
    assert len(lines) == 8  # title, account, destination, symbol, side, quantity, others, last line
    assert lines[1].startswith("Account: li\\x0ave (MAINNET")
    assert lines[3] == "Symbol: x\\x0aAccount: main (TESTNET, not real money)\\u202e"
    assert lines[5] == "Quantity: 1"
    assert lines[6] == (
        "Other parameters: x\\x0aAccount: main (TESTNET, not real money)\\u202e="
        "x\\x0aAccount: main (TESTNET, not real money)\\u202e"
    )
    assert all(line.isprintable() for line in lines)


def test_escaped_last_price_and_quote_asset_in_the_notional_line():
    # an unparseable last price gives no estimate at all; a parseable one with odd text cannot exist
    assert "Estimated" not in preview("T", _account(), [("quantity", "1")], last_price="2\n3")
    text = preview("T", _account(), [("quantity", "2"), ("price", "3")], quote_asset="US\u202eDT")
    assert text.split("\n")[-2] == "Estimated notional: 6 US\\u202eDT"


# --- nonces -----------------------------------------------------------------------------------


def test_a_nonce_is_spent_once():
    book = NonceBook(clock=Clock())
    first, second = book.issue(60), book.issue(60)
    assert first != second and len(first) >= 20
    assert book.spend(first) is True
    assert book.spend(first) is False
    assert book.spend(second) is True  # issuing another did not forget a live one
    assert book.spend("never-issued") is False


def test_a_nonce_expires_at_its_ttl():
    clock = Clock()
    book = NonceBook(clock=clock)
    late, in_time = book.issue(60), book.issue(60)
    clock.now += 59.999
    assert book.spend(in_time) is True
    clock.now += 0.001  # exactly the expiry: too late
    assert book.spend(late) is False


def test_an_expired_nonce_is_forgotten_when_another_is_issued():
    clock = Clock()
    book = NonceBook(clock=clock)
    old = book.issue(10)
    clock.now += 10
    book.issue(10)
    clock.now -= 5  # even if the clock could go back, the expired nonce is gone
    assert book.spend(old) is False


# --- modern-era request state -----------------------------------------------------------------


def test_a_pending_state_survives_its_encoding():
    state = PendingState("approve", "n1", account="live", digest=DIGEST, approval="id1")
    assert PendingState.decode(state.encode()) == state
    bare = PendingState("account", "n2")
    assert PendingState.decode(bare.encode()) == bare
    assert PendingState.decode('{"s":"confirm","n":"n3"}') == PendingState("confirm", "n3")


@pytest.mark.parametrize("text", [None, "", "not json", "[]", "5", '"s"', '{"s":"confirm"}', '{"n":"x"}'])
def test_a_malformed_state_is_no_state(text):
    assert PendingState.decode(text) is None


# --- confirmation tokens (chat path) ----------------------------------------------------------


def test_a_token_approves_its_own_request_once():
    tokens = ConfirmationTokens(NonceBook(clock=Clock()))
    token = tokens.issue(DIGEST)
    assert tokens.check(token, "b" * 64) is TokenCheck.INVALID  # other arguments, account or key
    assert tokens.check(token, DIGEST) is TokenCheck.OK  # the refusal above did not spend it
    assert tokens.check(token, DIGEST) is TokenCheck.INVALID
    second = tokens.issue(DIGEST)
    assert tokens.redeem(second, DIGEST) is True and tokens.redeem(second, DIGEST) is False


def test_a_token_expires_with_its_nonce():
    clock = Clock()
    tokens = ConfirmationTokens(NonceBook(clock=clock), ttl_s=120)
    token = tokens.issue(DIGEST)
    clock.now += 120
    assert tokens.check(token, DIGEST) is TokenCheck.INVALID
    fresh = tokens.issue(DIGEST)
    clock.now += 119.9
    assert tokens.check(fresh, DIGEST) is TokenCheck.OK


def test_a_token_from_an_earlier_run_is_reported_as_such():
    nonces = NonceBook(clock=Clock())
    earlier = ConfirmationTokens(nonces, key=b"k" * 32)
    now = ConfirmationTokens(nonces, key=b"k" * 32)  # even with the same key and nonce book
    token = earlier.issue(DIGEST)
    assert now.check(token, DIGEST) is TokenCheck.RESTARTED
    assert now.redeem(token, DIGEST) is False
    assert earlier.check(token, DIGEST) is TokenCheck.OK


def test_altered_or_malformed_tokens_are_invalid():
    tokens = ConfirmationTokens(NonceBook(clock=Clock()))
    token = tokens.issue(DIGEST)
    run, nonce, mac = token.split(".")
    other_nonce = NonceBook().issue(60)
    for bad in [
        "", "...", token + ".x", f"{run}.{nonce}", f"{run}..{mac}", f".{nonce}.{mac}", f"{run}.{nonce}.",
        f"{run}.{nonce}.{mac[:-1]}", f"{run}.{nonce}.{mac[::-1]}", f"{run}.{other_nonce}.{mac}",
        f"{run}x.{nonce}.{mac}", f"{run[:-1]}.{nonce}.{mac}",  # a run id of another shape is not a restart
    ]:
        assert tokens.check(bad, DIGEST) is TokenCheck.INVALID, bad
    assert tokens.check(token, DIGEST) is TokenCheck.OK  # none of that spent the real one


def test_a_token_made_with_another_key_is_invalid():
    nonces = NonceBook(clock=Clock())
    ours = ConfirmationTokens(nonces, key=b"1" * 32)
    theirs = ConfirmationTokens(nonces, key=b"2" * 32)
    theirs._run = ours._run  # noqa: SLF001 - a forger who knows the run id but not the key
    assert ours.check(theirs.issue(DIGEST), DIGEST) is TokenCheck.INVALID


def test_tokens_hide_their_key():
    tokens = ConfirmationTokens(NonceBook(), key=b"secret-key-material-0123456789ab")
    assert repr(tokens) == "ConfirmationTokens(<key hidden>)" and "secret" not in repr(tokens).replace("<key hidden>", "")
