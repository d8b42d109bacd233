"""Fresh attacks after the third review's fixes (issue 22, "Done when": a fresh attack of each kind
gets nowhere). Each test states the safe behaviour; the ones marked HOLE failed before the fix
that came with them.

1. caps: a decimal comma in a cap (HOLE), outcomes a hostile reply or stream could bend;
2. shedding rules: a second block of the same name (HOLE), an unreadable entry for the same key
   (HOLE), an environment-variable account for the key;
3. TOOLS.md: a rule line before the first heading (HOLE), look-alike field names;
4. secrets in disguise: HTML entities, JSON \\u escapes, double percent-encoding, base64 at any
   offset (HOLE);
5. hostile order events cannot settle a lost reply as "not placed";
6. CONFIRM look-alikes;
7. look-alike and decomposed symbols against a deny list (HOLE).
"""

from __future__ import annotations

import base64
import html
import json
import re
import unicodedata
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from binance_spot_mcp.accounts.reading import parse_accounts
from binance_spot_mcp.approval.confirm import is_confirm_text
from binance_spot_mcp.config import OFFICIAL_BASE_URLS
from binance_spot_mcp.errors import ExchangeError
from binance_spot_mcp.guard.daily import counts
from binance_spot_mcp.policy import Rules, effective_policy, parse_amount, parse_symbols
from binance_spot_mcp.redact import Redactor
from binance_spot_mcp.results import failure
from binance_spot_mcp.server.sending import error_summary

from tests.e2e_support import memory_client, random_token, result_json
from tests.guard.test_guard_rails import SMALL_BUY, writes


def _plain_id(text: str) -> str:
    """A test id with no backslash (``^u202e`` for U+202E; also for ``\\x00``): mutmut selects tests by
    id, and an id holding a backslash is escaped again on each of its runs and never found."""
    return "".join(ch if ch.isprintable() and ch.isascii() else f"^u{ord(ch):04x}" for ch in text)

pytestmark = pytest.mark.anyio

BIG_BUY = {**SMALL_BUY, "quantity": "0.01"}  # 540 USDT at the fake's 54000 limit price


def _text(world) -> str:
    return world.tools_file.read_text()


def _refused_unsent(world, result: Any, *needles: str) -> dict[str, Any]:
    assert result.is_error, result
    body = result_json(result)
    for needle in needles:
        assert needle in body["message"], body
    assert writes(world) == []
    return body


# --- 1. overrunning the caps ------------------------------------------------------------------


@pytest.mark.parametrize("text", ["0,5 BTC", "100,5 USDT", "1,00 USDT", "12,3456 USDT", "1,0000 USDT", ",5 USDT"])
def test_a_decimal_comma_in_a_cap_is_refused_not_read_as_a_bigger_cap(text):
    """HOLE: '0,5 BTC' (a European 0.5) was read as 5 BTC, ten times the cap the operator wrote."""
    with pytest.raises(ValueError):
        parse_amount(text)


@pytest.mark.parametrize(("text", "value"), [("1,000 USDT", "1000"), ("1,000,000.5 USDT", "1000000.5"),
                                             ("12,345 USDT", "12345"), ("100 USDT", "100")])
def test_thousands_separators_still_read(text, value):
    assert str(parse_amount(text).value) == value


def test_a_cap_with_a_decimal_comma_makes_the_account_unusable(tmp_path):
    accounts = _parse(tmp_path, "### main\n" + _block() + "- Max Order Value: 0,5 BTC\n")
    assert "main" not in accounts.accounts and "Max Order Value" in accounts.broken["main"].problem


_INTENT = {"phase": "intent", "id": "x", "tool": "place_order", "policy": {"value": {"USDT": "540"}}}


@pytest.mark.parametrize("summary", [
    {"recovered": "placed, REJECTED", "status": "REJECTED"},  # a forged or wrong order event
    {"recovered": "placed, EXPIRED", "status": "EXPIRED", "executedQty": "0"},
    {"recovered": "placed, CANCELED", "newOrderResult": "FAILURE"},  # a hostile event carrying 409 words
])
def test_an_order_settled_from_an_order_event_always_counts(summary):
    """Whatever an order event (the user data stream, which can be forged) says, an order settled
    from it was found, so it counts toward the daily total."""
    assert counts(_INTENT, {"ok": True, "status": None, "summary": summary})


@pytest.mark.parametrize(("status", "data"), [
    (409, {"newOrderResult": ["FAILURE"]}),  # not a string: cannot be read, so it counts
    (409, {"newOrderResult": "failure"}),  # not Binance's spelling of a failure
    (409, None),
    (400, {"newOrderResult": "SUCCESS", "cancelResult": "FAILURE"}),  # placed, whatever the status says
    (200, None),  # an error payload on HTTP 200 is no rejection we can trust
])
def test_an_error_reply_that_may_hide_a_placed_order_counts(status, data):
    exc = ExchangeError(status=status, code=-2021, msg="Order cancel-replace partially failed.", data=data)
    assert counts(_INTENT, {"ok": False, "status": status, "summary": error_summary(exc)})


def test_a_plain_rejection_still_does_not_count():
    exc = ExchangeError(status=400, code=-2010, msg="Account has insufficient balance.")
    assert not counts(_INTENT, {"ok": False, "status": 400, "summary": error_summary(exc)})


# --- 2. shedding the operator's rules ------------------------------------------------------------


async def test_a_second_block_of_the_same_name_cannot_hide_its_rules(world):
    """HOLE: a second '### main' holding the cap was dropped with a log line only, so main traded
    uncapped. Now every change of main is refused until the blocks are merged."""
    world.tools_file.write_text(_text(world) + "\n### main\n- Max Order Value: 100 USDT\n")
    async with memory_client(world.tools_file, "legacy", world.base_url) as client:
        result = await client.call_tool("place_order", {**BIG_BUY, "account": "main"})
        status = result_json(await client.call_tool("get_safety_status", {}))
    _refused_unsent(world, result, "defined again")
    row = next(a for a in status["accounts"] if a["account"] == "main")
    assert any("defined again" in p for p in row["problems"])


def _break_main(world) -> None:
    """main keeps its key but a rule line it cannot read (a zero cap) makes the entry unusable."""
    world.tools_file.write_text(_text(world).replace(
        "- Description: HMAC testnet account\n",
        "- Description: HMAC testnet account\n- Max Order Value: 100 USDT\n- Max Daily Value: 0 USDT\n"))


def _creds(tmp_path: Path, api_key: str, secret: str) -> Path:
    path = tmp_path / "creds.txt"
    path.write_text(f"{api_key}\n{secret}\n")
    path.chmod(0o600)
    return path


async def test_add_account_refuses_the_key_of_an_entry_that_cannot_be_read(world, tmp_path):
    """HOLE: the twin check saw only usable entries; with main unreadable, a testnet clone of its
    key was added without approval and with none of main's rules."""
    _break_main(world)
    before = _text(world)
    creds = _creds(tmp_path, world.keys.hmac_api_key, world.keys.hmac_secret)
    async with memory_client(world.tools_file, "legacy", world.base_url) as client:
        result = await client.call_tool("add_account", {"name": "clone", "environment": "testnet",
                                                        "credentials_file": str(creds)})
    assert result.is_error and "already configured as account 'main'" in result_json(result)["message"], result
    assert _text(world) == before


async def test_an_entry_sharing_the_key_of_an_unreadable_entry_refuses_changes(world):
    """HOLE: the rules of an entry that cannot be read are unknown; another entry for its key
    traded with none of them."""
    _break_main(world)
    world.tools_file.write_text(_text(world) + f"\n### clone\n- API Key: {world.keys.hmac_api_key}\n"
                                f"- Secret: {world.keys.hmac_secret}\n- Environment: testnet\n"
                                f"- Base URL: {world.base_url}\n")
    async with memory_client(world.tools_file, "legacy", world.base_url) as client:
        result = await client.call_tool("place_order", {**BIG_BUY, "account": "clone"})
        reads = await client.call_tool("get_account", {"account": "clone"})
    _refused_unsent(world, result, "'main'")
    assert not reads.is_error  # reads still work


async def test_an_environment_variable_account_for_the_key_gets_the_entrys_caps(world):
    world.tools_file.write_text(_text(world).replace(
        "- Description: HMAC testnet account\n", "- Description: HMAC testnet account\n- Max Order Value: 100 USDT\n"))
    env = {"BINANCE_TESTNET_API_KEY": world.keys.hmac_api_key, "BINANCE_TESTNET_SECRET_KEY": world.keys.hmac_secret}
    async with memory_client(world.tools_file, "legacy", world.base_url, extra_env=env) as client:
        names = [a["name"] for a in result_json(await client.call_tool("list_accounts", {}))["accounts"]]
        name = next(n for n in names if n.startswith("env-"))
        result = await client.call_tool("place_order", {**BIG_BUY, "account": name})
    _refused_unsent(world, result, "100 USDT")


# --- 3. TOOLS.md lines that could silently turn a rule off ---------------------------------------


def _block(api_key: str = "AbCdEfGhIjKlMnOpQrStUvWx0123456789") -> str:
    return f"- API Key: {api_key}\n- Secret: {'s' * 40}\n- Environment: testnet\n"


def _parse(tmp_path: Path, body: str) -> Any:
    return parse_accounts("## Binance Accounts\n\n" + body, where="TOOLS.md", base_dir=tmp_path,
                          base_urls=OFFICIAL_BASE_URLS, redactor=Redactor())


async def test_a_rule_line_before_the_first_account_refuses_every_change(world):
    """HOLE: '- Max Order Value: 100 USDT' between '## Binance Accounts' and the first '###' was
    ignored with a log line; the operator meant a cap and every account traded uncapped."""
    world.tools_file.write_text(_text(world).replace(
        "## Binance Accounts\n", "## Binance Accounts\n\n- Max Order Value: 100 USDT\n", 1))
    async with memory_client(world.tools_file, "legacy", world.base_url) as client:
        result = await client.call_tool("place_order", {**BIG_BUY, "account": "main"})
        status = result_json(await client.call_tool("get_safety_status", {}))
    _refused_unsent(world, result, "before the first")
    assert all(row.get("problems") for row in status["accounts"])


def test_prose_before_the_first_account_is_still_fine(tmp_path):
    accounts = _parse(tmp_path, "Keys for my bots; see the README.\n\n### main\n" + _block())
    assert accounts.accounts["main"].field_problems == ()


@pytest.mark.parametrize("line", [
    "- Max \u041erder Value: 100 USDT",  # Cyrillic capital O
    "- Max Order Value\uff1a100 USDT",  # full-width colon
    "-Max Order Value: 100 USDT",  # no space after the dash
    "\u2022 Max Order Value: 100 USDT",  # a bullet character
    "- Max\u00a0Order Value: 100 USDT",  # a no-break space inside the name
    "- Max Order Value: 100 USDT per order",
    "- Allowed Symbols: BTCUSDT ETHUSDT",
    "- Allowed Symbols: BTCUSDT\u202e",  # a bidi override after the symbol
    "- Allowed Symbol: BTCUSDT",
    "- Dry Run: ture",
], ids=_plain_id)
def test_a_look_alike_or_misspelt_rule_line_never_leaves_the_account_trading(tmp_path, line):
    accounts = _parse(tmp_path, "### main\n" + _block() + line + "\n")
    main = accounts.accounts.get("main")
    assert main is None or main.field_problems, "the account would trade with the rule silently off"


# --- 4. a secret in a disguise the redactor must see through ------------------------------------

KEY = "Kq" + random_token(62)
SECRET = "Sz" + random_token(62)


def _redactor() -> Redactor:
    redactor = Redactor()
    redactor.add_api_key(KEY)
    redactor.add_secret(SECRET)
    return redactor


def _b64_at(value: str, offset: int) -> str:
    """``value`` inside base64 text, after ``offset`` other bytes (an echoed Basic header, say)."""
    return base64.b64encode(b"u:"[:offset] + value.encode() + b":x").decode()


DISGUISES = {
    "HTML decimal entities": lambda v: "".join(f"&#{ord(c)};" for c in v),
    "HTML hex entities": lambda v: "".join(f"&#x{ord(c):x};" for c in v),
    "JSON ^u escapes": lambda v: "".join(f"\\u{ord(c):04x}" for c in v),
    "JSON ^u escapes, upper-case hex": lambda v: "".join(f"\\u{ord(c):04X}" for c in v),
    "percent-encoded twice": lambda v: "".join(f"%25{b:02X}" for b in v.encode()),
    "base64 at offset 1": lambda v: _b64_at(v, 1),
    "base64 at offset 2": lambda v: _b64_at(v, 2),
    "base64 of key:secret": lambda v: base64.b64encode(f"{v}:{SECRET}".encode()).decode(),
}


def _decoded_forms(text: str) -> list[str]:
    """What a reader could rebuild from ``text``."""
    forms = [text, html.unescape(text), unquote(unquote(text)),
             re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)]
    for token in re.findall(r"[A-Za-z0-9+/=]{16,}", text):
        for cut in range(4):
            chunk = token[cut:]
            chunk = chunk[: len(chunk) // 4 * 4]
            try:
                forms.append(base64.b64decode(chunk).decode("latin-1"))
            except ValueError:
                pass
    return forms


@pytest.mark.parametrize("disguise", sorted(DISGUISES))
@pytest.mark.parametrize("which", ["key", "secret"])
def test_a_secret_in_an_encoding_is_not_echoed(disguise, which):
    value = KEY if which == "key" else SECRET
    echoed = DISGUISES[disguise](value)
    redactor = _redactor()
    for out in (redactor.redact(f"API-key format invalid: <{echoed}>."),
                failure(ExchangeError(status=400, code=-2014, msg=f"API-key format invalid: {echoed}"),
                        redactor=redactor).content[0].text):
        shown = [out]
        try:
            shown.append(json.dumps(json.loads(out), ensure_ascii=False))
        except ValueError:
            pass
        for text in shown:
            assert not any(value in form for form in _decoded_forms(text)), text


def test_clean_text_with_entities_escapes_and_percent_signs_is_left_alone():
    redactor = _redactor()
    for clean in ("5 &lt; 6 &#38; up 5%25", "caf\\u00e9 BTCUSDT", "QlRDVVNEVCBpcyBhIHN5bWJvbA=="):
        assert redactor.redact(clean) == clean


# --- 6. CONFIRM look-alikes (every channel asks is_confirm_text) ----------------------------------


@pytest.mark.parametrize("text", [
    "\u0421ONFIRM",  # Cyrillic capital Es
    "CONF\u0406RM",  # Cyrillic capital I
    "CONFIRM\u0301",  # a combining acute accent
    "C\u0336ONFIRM",  # a combining strike-through
    "\u1d04ONFIRM",  # Latin letter small capital C
    "CONFIRM\u180e",
    "CONFIRM\x00",
    "CONFIRM\u2028",
    "\u202eMRIFNOC",  # right-to-left override: looks like CONFIRM
    "CONFIRM\u200e",  # left-to-right mark
    "\U000e0043ONFIRM",  # tag character
], ids=_plain_id)
def test_a_look_alike_confirm_is_not_confirm(text):
    assert not is_confirm_text(text)


# --- 7. symbols that look like a denied one ----------------------------------------------------------


@pytest.mark.parametrize(("denied", "symbol"), [
    ("BTC*", "\uff22\uff34\uff23USDT"),  # full-width BTC
    ("BTCUSDT", "\uff22\uff34\uff23\uff35\uff33\uff24\uff34"),
    ("CAF\u00c9*", "CAFE\u0301USDT"),  # the denied name composed, the symbol decomposed
    ("CAFE\u0301*", "CAF\u00c9USDT"),  # and the other way round
    ("BTCUSDT", "BTCUSDT\u0336"),  # a combining strike-through (a human reading a preview sees BTCUSDT)
    ("BTC*", "B\u0301TCUSDT"),
    ("BTC*", "BT\u0336C"),  # a mark inside, and the wildcard matches nothing once it is gone
], ids=["fullwidth-prefix", "fullwidth-whole", "nfd-symbol", "nfd-pattern", "trailing-mark", "inner-mark",
        "mark-at-the-wildcard"])
def test_a_deny_list_holds_against_other_spellings_of_the_symbol(denied, symbol):
    """HOLE: a deny list compared code points only, so a full-width or decomposed spelling passed."""
    policy = effective_policy(Rules(), Rules(denied_symbols=parse_symbols(denied)))
    assert policy.symbol_problem(symbol) is not None


def test_an_allow_list_is_not_widened_by_other_spellings():
    policy = effective_policy(Rules(), Rules(allowed_symbols=parse_symbols("BTCUSDT")))
    assert policy.symbol_problem("BTCUSDT") is None
    assert policy.symbol_problem("\uff22\uff34\uff23USDT") is not None
    assert unicodedata.normalize("NFKC", "\uff22\uff34\uff23USDT") == "BTCUSDT"



# --- 5. hostile stream frames ----------------------------------------------------------------------


def _json_escaped(text: str) -> str:
    """``text`` as a JSON string body spelled entirely in \\u escapes (what json.loads decodes)."""
    return "".join(f"\\u{ord(c):04x}" for c in text)


def _escaping_api(*, refuse: bool, go: Any = None) -> tuple[Any, list[dict[str, Any]]]:
    """A WebSocket API that echoes the request's signature and key spelled in JSON \\u escapes, so
    the frame's text never shows them as sent: in its error when ``refuse``, else in an event."""
    seen: list[dict[str, Any]] = []

    async def handler(ws: Any) -> None:
        async for raw in ws:
            request = json.loads(raw)
            params = request.get("params") or {}
            seen.append(params)
            echo = "Signature @S@ for @K@ is not valid"
            if refuse:
                frame = json.dumps({"id": request["id"], "status": 400, "error": {"code": -1022, "msg": echo}})
            else:
                await ws.send(json.dumps({"id": request["id"], "status": 200, "result": {"subscriptionId": 0}}))
                await go.wait()
                frame = json.dumps({"subscriptionId": 0, "event": {"e": "balanceUpdate", "a": "BTC", "d": echo,
                                                                   "sig": "@S@"}})
            frame = frame.replace("@S@", _json_escaped(params.get("signature", "")))
            await ws.send(frame.replace("@K@", _json_escaped(params.get("apiKey", ""))))

    return handler, seen


async def test_a_signature_echoed_in_json_escapes_in_a_websocket_api_error_is_masked() -> None:
    """HOLE: the frame's raw text was searched for the signature, so one spelled in \\u escapes
    was decoded by json.loads and passed on whole."""
    from binance_spot_mcp.streams.buffers import Subscription
    from binance_spot_mcp.streams.user import UserStreams

    from tests.streams.test_hostile_frames import BOUND_S, _account, _noop, scripted

    handler, seen = _escaping_api(refuse=True)
    async with scripted(handler) as url:
        user = UserStreams(f"{url}/ws-api/v3", now_ms=lambda _: 1_700_000_000_000, resync_clock=_noop)
        try:
            with pytest.raises(ExchangeError) as raised:
                await user.listen(_account(url), Subscription("s", ("balanceUpdate",), "testnet", "main"),
                                  timeout_s=BOUND_S)
        finally:
            await user.aclose()
    assert seen and raised.value.code == -1022
    text = json.dumps(raised.value.to_dict()) + str(raised.value)
    assert seen[0]["signature"] not in text and seen[0]["apiKey"] not in text, text


async def test_a_signature_echoed_in_json_escapes_in_an_event_is_not_buffered() -> None:
    import anyio
    from binance_spot_mcp.streams.buffers import Subscription
    from binance_spot_mcp.streams.user import UserStreams

    from tests.streams.test_hostile_frames import (
        BOUND_S,
        _account,
        _noop,
        _until,
        scripted,
    )

    go = anyio.Event()
    handler, seen = _escaping_api(refuse=False, go=go)
    async with scripted(handler) as url:
        user = UserStreams(f"{url}/ws-api/v3", now_ms=lambda _: 1_700_000_000_000, resync_clock=_noop)
        subscription = Subscription("s", ("balanceUpdate",), "testnet", "main")
        try:
            await user.listen(_account(url), subscription, timeout_s=BOUND_S)
            go.set()
            await _until(lambda: subscription.received >= 1)
        finally:
            await user.aclose()
    read = json.dumps(await subscription.read(0, wait_s=0, limit=10), ensure_ascii=False)
    assert "balanceUpdate" in read
    assert seen[0]["signature"] not in read and seen[0]["apiKey"] not in read, read


async def test_a_byte_order_mark_does_not_hide_the_accounts_and_their_rules(world):
    """HOLE: a TOOLS.md saved with a byte order mark (Windows editors) before '## Binance Accounts'
    had no accounts section at all, silently; an environment-variable account for the same key
    then traded without the file's cap."""
    world.tools_file.write_text(
        f"\ufeff## Binance Accounts\n\n### capped\n- API Key: {world.keys.hmac_api_key}\n"
        f"- Secret: {world.keys.hmac_secret}\n- Environment: testnet\n- Base URL: {world.base_url}\n"
        "- Max Order Value: 100 USDT\n")
    env = {"BINANCE_TESTNET_API_KEY": world.keys.hmac_api_key, "BINANCE_TESTNET_SECRET_KEY": world.keys.hmac_secret}
    async with memory_client(world.tools_file, "legacy", world.base_url, extra_env=env) as client:
        names = [a["name"] for a in result_json(await client.call_tool("list_accounts", {}))["accounts"]]
        assert "capped" in names, names
        name = next(n for n in names if n.startswith("env-"))
        result = await client.call_tool("place_order", {**BIG_BUY, "account": name})
    _refused_unsent(world, result, "100 USDT")


def test_an_account_added_to_a_file_with_a_byte_order_mark_lands_in_its_section(tmp_path):
    from binance_spot_mcp.accounts.writing import AccountEntry, add_account

    path = tmp_path / "TOOLS.md"
    path.write_text("\ufeff## Binance Accounts\n\n### main\n" + _block())
    path.chmod(0o600)
    add_account(path, AccountEntry(name="second", environment="demo", api_key="ZyXwVuTsRqPoNmLk9876543210", secret="t" * 40),
                replace=False, backup=False)
    text = path.read_text()
    assert text.startswith("\ufeff## Binance Accounts") and text.count("## Binance Accounts") == 1
    assert set(_parse_file(tmp_path, text).accounts) == {"main", "second"}


def _parse_file(tmp_path: Path, text: str) -> Any:
    return parse_accounts(text, where="TOOLS.md", base_dir=tmp_path, base_urls=OFFICIAL_BASE_URLS, redactor=Redactor())


@pytest.mark.parametrize("listed", ["\u0412\u0422\u0421USDT", "BTC\u0423SDT*", "*D\u039fWN*"],
                         ids=["cyrillic-BTC", "cyrillic-U", "greek-O"])
def test_a_symbol_list_entry_with_look_alike_letters_is_refused_not_silently_void(listed):
    """HOLE: 'Denied Symbols: ВТСUSDT' (Cyrillic В, Т, С pasted from somewhere) denied nothing
    Binance lists, silently; such an entry is now refused, so the operator sees it."""
    with pytest.raises(ValueError, match="look"):
        parse_symbols(listed)


def test_symbol_lists_still_take_unicode_symbols():
    assert parse_symbols("\u8fd9\u662f\u6d4b\u8bd5\u5e01456, \u5e01USDT, \u0411\u0422\u0421*") == (
        "\u8fd9\u662f\u6d4b\u8bd5\u5e01456", "\u5e01USDT", "\u0411\u0422\u0421*")


@pytest.mark.parametrize("spelling", [" {k}", "{k} ", "{k}\n", "\t{k}", "{k}\u200b", "\u00a0{k}"],
                         ids=["lead-space", "trail-space", "newline", "tab", "zero-width", "nbsp"])
async def test_add_account_takes_no_other_spelling_of_a_configured_key(world, spelling):
    """A key with spaces or invisible characters around it is refused outright (it is not a key),
    so it can never become a second entry for the configured key once TOOLS.md trims it."""
    before = _text(world)
    key = spelling.format(k=world.keys.hmac_api_key)
    async with memory_client(world.tools_file, "legacy", world.base_url) as client:
        result = await client.call_tool("add_account", {"name": "clone", "environment": "testnet",
                                                        "api_key": key, "secret": world.keys.hmac_secret})
    assert result.is_error and _text(world) == before, result


@pytest.mark.parametrize("hider", ["\\u200b", "&#8203;", "\\u00a0", "&#x2060;"])
def test_a_secret_split_by_escaped_invisible_characters_is_not_echoed(hider):
    """A key split by invisible characters spelled as escapes or references (as an escaping
    proxy, or our own escaping, would write them) is found too."""
    echoed = hider.join(KEY[i:i + 4] for i in range(0, len(KEY), 4))
    out = _redactor().redact(f"echo: {echoed}")
    decoded = html.unescape(re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), out))
    assert KEY not in re.sub(r"[\u200b\u00a0\u2060]", "", decoded), out


@pytest.mark.parametrize("heading", ["## Binance Accounts:", "### Binance Accounts", "# Binance Accounts",
                                     "## Binance Acounts", "##Binance Accounts"])
async def test_a_misspelt_section_heading_does_not_leave_an_environment_account_unruled(world, heading):
    """HOLE: with the heading misspelt the file had no accounts, silently, and an environment-variable
    account for the same key traded without the file's cap. Now the file is refused, saying why."""
    world.tools_file.write_text(
        f"{heading}\n\n### capped\n- API Key: {world.keys.hmac_api_key}\n- Secret: {world.keys.hmac_secret}\n"
        f"- Environment: testnet\n- Base URL: {world.base_url}\n- Max Order Value: 100 USDT\n")
    env = {"BINANCE_TESTNET_API_KEY": world.keys.hmac_api_key, "BINANCE_TESTNET_SECRET_KEY": world.keys.hmac_secret}
    async with memory_client(world.tools_file, "legacy", world.base_url, extra_env=env) as client:
        listed = result_json(await client.call_tool("list_accounts", {}))
        result = await client.call_tool("place_order", {**BIG_BUY, "account": "env-testnet"})
    assert "Binance Accounts" in listed["accounts_file_refused"]["problem"], listed
    _refused_unsent(world, result, "Binance Accounts")


async def test_add_account_cannot_undo_the_refusal_of_a_misspelt_section_heading(world, tmp_path):
    """add_account appends a real section when it finds none; the misspelt one (whose accounts
    hold the rules) must keep the file refused, or the environment account trades unruled again."""
    world.tools_file.write_text(
        f"## Binance Accounts:\n\n### capped\n- API Key: {world.keys.hmac_api_key}\n- Secret: {world.keys.hmac_secret}\n"
        f"- Environment: testnet\n- Base URL: {world.base_url}\n- Max Order Value: 100 USDT\n")
    env = {"BINANCE_TESTNET_API_KEY": world.keys.hmac_api_key, "BINANCE_TESTNET_SECRET_KEY": world.keys.hmac_secret}
    creds = _creds(tmp_path, "Fr" + random_token(62), "Fs" + random_token(62))
    async with memory_client(world.tools_file, "legacy", world.base_url, extra_env=env) as client:
        await client.call_tool("add_account", {"name": "fresh", "environment": "testnet", "credentials_file": str(creds)})
        result = await client.call_tool("place_order", {**BIG_BUY, "account": "env-testnet"})
    _refused_unsent(world, result, "Binance Accounts")


@pytest.mark.parametrize("name", ["BINANCE_SPOT_MCP_MAX_ORDER_VALU", "BINANCE_SPOT_MCP_MAX_DAILY_VALUES",
                                  "binance_spot_mcp_max_order_value", "BINANCE_SPOT_MCP_DRYRUN",
                                  "BINANCE_SPOT_MCP_DENY_SYMBOLS", "BINANCE_SPOT_MCP_TRADNG"])
def test_a_misspelt_guard_rail_variable_stops_the_server_instead_of_leaving_the_rule_off(tmp_path, name):
    """HOLE: a server-wide rule in a misspelt environment variable was silently not read."""
    from binance_spot_mcp.config import load_settings
    from binance_spot_mcp.errors import ConfigError

    with pytest.raises(ConfigError, match="did you mean"):
        load_settings(tools_file=str(tmp_path / "TOOLS.md"), environ={name: "off" if "TRAD" in name else "100 USDT"})


def test_the_real_guard_rail_variables_and_others_still_load(tmp_path):
    from binance_spot_mcp.config import load_settings

    environ = {"BINANCE_SPOT_MCP_MAX_ORDER_VALUE": "100 USDT", "BINANCE_SPOT_MCP_DRY_RUN": "true",
               "BINANCE_SPOT_MCP_ALLOW_CHAT_CONFIRM": "0", "BINANCE_SPOT_MCP_TESTNET_BASE_URL": "http://127.0.0.1:1",
               "BINANCE_SPOT_MCP_HALT_FILE": str(tmp_path / "HALT"), "BINANCE_SPOT_MCP_CONFIRM": "always"}
    settings = load_settings(tools_file=str(tmp_path / "TOOLS.md"), environ=environ)
    assert settings.policy_rules.dry_run is True and settings.policy_rules.confirm == "always"


@pytest.mark.parametrize("value", [["CONFIRM"], {"confirm": "CONFIRM"}, b"CONFIRM", None, True, 1],
                         ids=["list", "object", "bytes", "null", "true", "number"])
def test_confirm_in_another_type_is_not_confirm(value):
    """A form, card or chat argument that is CONFIRM wrapped in a list, an object or bytes."""
    assert not is_confirm_text(value)


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


async def test_a_deeply_nested_event_does_not_make_a_subscription_unreadable(world):
    """HOLE: an event nested just under what json.loads takes (940 levels) parsed fine on the
    connection but broke every later read_stream of its subscription (RecursionError while the
    result was serialised) until it left the buffer."""
    import anyio

    from tests.e2e_support import stream_environ

    async with memory_client(world.tools_file, "legacy", world.base_url, extra_env=stream_environ(world.fake)) as client:
        sid = result_json(await client.call_tool("subscribe_stream", {"account": "main"}))["subscription"]
        world.fake.streams.forge_user_event(world.keys.hmac_api_key, {"e": "balanceUpdate", "a": "BTC", "d": _nested(940)})
        world.fake.streams.forge_user_event(world.keys.hmac_api_key, {"e": "balanceUpdate", "a": "ETH", "d": "1.0"})
        with anyio.fail_after(10):
            events: list[Any] = []
            cursor = 0
            while not any(e["data"].get("a") == "ETH" for e in events):
                result = await client.call_tool("read_stream", {"subscription": sid, "cursor": cursor, "wait_seconds": 2,
                                                                "raw": True})
                assert not result.is_error, result.content[0].text[:300]
                read = result_json(result)
                events += read["events"]
                cursor = read["next_cursor"]
