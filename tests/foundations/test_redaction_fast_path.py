"""The shortcut that lets a clean result skip the walk over its data (``Redactor.json_is_clean``)
must never let a secret, a signature or a private key through: whenever the walk would change the
data, the JSON text of that data is not clean, and results built through the shortcut hide the
same things as results built through the walk."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from binance_spot_mcp.redact import Redactor
from binance_spot_mcp.results import dumps, json_result, success, visible
from tests.e2e_support import random_token

KEY = "Kx" + random_token(40)
SECRET = "Sy" + random_token(40)


def _redactor(*secrets: str) -> Redactor:
    redactor = Redactor()
    redactor.add_api_key(KEY)
    for value in secrets:
        redactor.add_secret(value)
    return redactor


def _text(result) -> str:
    return result.content[0].text


def test_data_without_anything_to_hide_is_clean_and_the_result_is_its_json():
    redactor = _redactor(SECRET)
    data = {"events": [{"seq": 5, "data": {"e": "trade", "s": "BTCUSDT", "p": "1.00000000"}}], "next_cursor": 5}
    assert redactor.json_is_clean(dumps(data))
    assert json.loads(_text(success(data, redactor=redactor, max_chars=10_000))) == data


def test_each_thing_the_walk_hides_makes_the_text_unclean():
    redactor = _redactor(SECRET)
    for data in (
        {"note": f"x{KEY}y"},  # a key inside a string
        {f"k{SECRET}": 1},  # a secret as a member name
        {"Signature": "abc"},  # a member named signature, any case
        {"nested": [{"SIGNATURE": None}]},
        {"url": "https://x/api?a=1&signature=deadbeef"},
        {"pem": "-----BEGIN PRIVATE KEY-----\nMII\n-----END PRIVATE KEY-----"},
        {"hex": SECRET.encode().hex()},  # an encoded form
    ):
        assert not redactor.json_is_clean(dumps(data)), data


def test_a_secret_json_would_escape_disables_the_shortcut_and_is_still_hidden():
    for awkward in ('quo"te-secret-value', "back\\slash-secret", "new\nline-secret", "unicodé-secret"):
        redactor = _redactor(awkward)
        assert not redactor.json_is_clean(dumps({"nothing": "here"}))  # even for text without it
        data = {"echo": f"<{awkward}>", awkward: "as a member name"}
        for text in (_text(success(data, redactor=redactor, max_chars=10_000)),
                     _text(json_result(data, error=True, redactor=redactor))):
            assert awkward not in text and awkward not in json.loads(text).get("echo", "")
            assert dumps(awkward)[1:-1] not in text  # nor in its escaped JSON spelling
            assert not any(awkward in k for k in json.loads(text))


def test_a_signature_member_is_masked_through_success_and_json_result():
    redactor = _redactor(SECRET)
    data = {"request": {"symbol": "BTCUSDT", "signature": "a" * 64}}
    for result in (success(data, redactor=redactor, max_chars=10_000), json_result(data, error=False, redactor=redactor)):
        assert json.loads(_text(result))["request"]["signature"] == "***"


def test_text_redaction_without_a_hit_returns_the_same_text_and_with_one_still_masks():
    redactor = _redactor(SECRET)
    clean = "nothing to see: BTCUSDT 1.00000000"
    assert redactor.redact(clean) is clean
    assert SECRET not in redactor.redact(f"a {SECRET} b") and "signature=***" in redactor.redact("x?signature=ab12")
    assert "PRIVATE KEY-----\nMII" not in redactor.redact("-----BEGIN PRIVATE KEY-----\nMII\n-----END PRIVATE KEY-----")


_SECRETS = [SECRET, KEY, 'q"uoted-secret', "tab\tsecret"]
_strings = st.one_of(
    st.text(max_size=12),
    st.sampled_from(_SECRETS + ["signature", "Signature", "signature=ab", "-----BEGIN "]),
    st.builds(lambda a, s, b: a + s + b, st.text(max_size=4), st.sampled_from(_SECRETS), st.text(max_size=4)),
)
_json = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), _strings),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_strings, inner, max_size=4)),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(data=_json, awkward=st.booleans())
def test_clean_text_always_means_the_walk_changes_nothing(data, awkward):
    redactor = _redactor(SECRET, 'q"uoted-secret', "tab\tsecret") if awkward else _redactor(SECRET)
    walked = redactor.redact_data(data)
    if redactor.json_is_clean(dumps(data)):
        assert walked == data
    # and whichever way a result is built, what the walk hides stays hidden
    text = _text(success(data, redactor=redactor, max_chars=100_000))
    assert text == redactor.redact(dumps(visible(walked)))  # results escape what a reader cannot see


def test_case_insensitive_signatures_are_found_in_ascii_and_in_other_text():
    redactor = _redactor(SECRET)
    assert redactor.redact("GET /api?x=1&SiGnAtUrE=abc123") == "GET /api?x=1&SiGnAtUrE=***"
    # beyond ASCII the regular expression decides (it treats the long s as an s), not str.lower
    assert redactor.redact("prix € ſignature=abc123") == "prix € ſignature=***"
    assert not redactor.json_is_clean(dumps({"note": "€", "ſignature": "abc"}))
    assert not redactor.json_is_clean(dumps({"SIGNATURE": "abc"}))
    assert redactor.json_is_clean(dumps({"note": "€ signatures are elsewhere", "sign": "ature"}))


def test_a_secret_deep_in_a_large_result_is_found():
    redactor = _redactor(SECRET)
    rows = [{"symbol": f"SYM{i}USDT", "status": "TRADING"} for i in range(2000)]
    rows[1500]["status"] = f"echo {SECRET[:-1]}"  # one character short: not the secret
    assert redactor.json_is_clean(dumps(rows))
    rows[1999]["status"] = f"echo {SECRET}"
    assert not redactor.json_is_clean(dumps(rows))
    assert SECRET not in _text(success(rows, redactor=redactor, max_chars=1_000_000))
