"""Secrets and signatures in disguise are masked too (issue 22, finding 15; invariant 1).

An exchange or proxy error may echo the API key or secret percent-encoded, reversed, split by
spaces, line breaks or invisible characters, or the request signature as a JSON member rather
than ``signature=``. The redactor matches registered values after normalising such forms (space
and invisible characters removed, ``%XX`` decoded) and masks what it finds in place; a signature
is masked whole, in hex and base64. The same holds for a tool result built through the clean-JSON
shortcut (``json_is_clean``) and through the walk over its data.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from urllib.parse import unquote

import pytest
from binance_spot_mcp.errors import ExchangeError
from binance_spot_mcp.redact import Redactor
from binance_spot_mcp.results import dumps, failure, success
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.e2e_support import random_token

KEY = "Kq" + random_token(62)
SECRET = "Sz" + random_token(62)
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u180e", "\x7f", "\x1f", "\x00"]
SPACES = [" ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u3000", "\u2028", "\u2029", "\u202f", "\x85"]


def _redactor() -> Redactor:
    redactor = Redactor()
    redactor.add_api_key(KEY)
    redactor.add_secret(SECRET)
    return redactor


def _split(value: str, sep: str, every: int) -> str:
    return sep.join(value[i:i + every] for i in range(0, len(value), every))


def _percent(value: str, *, lower: bool = False) -> str:
    encoded = "".join(f"%{b:02X}" for b in value.encode())
    return encoded.lower() if lower else encoded


def _normal(text: str) -> str:
    """What a reader could rebuild from ``text``: separators and invisible characters dropped,
    %XX decoded, JSON escapes of control characters dropped."""
    text = re.sub(r"\\u00[01][0-9a-fA-F]|\\[nrtbf]", "", text)
    text = "".join(ch for ch in text if ch.isprintable() and not ch.isspace())
    return unquote(text)


def _leaks(text: str, value: str) -> bool:
    normal = _normal(text)
    return any(v in normal or v in text for v in (value, value[::-1], value.lower(), value[::-1].lower()))


DISGUISES = {
    "percent-encoded": lambda v: _percent(v),
    "percent-encoded, lower-case hex": lambda v: _percent(v, lower=True),
    "partly percent-encoded": lambda v: v[:10] + _percent(v[10:30]) + v[30:],
    "reversed": lambda v: v[::-1],
    "reversed, upper-case": lambda v: v[::-1].upper(),
    **{f"split by {sep.encode('unicode_escape').decode()} every {n}": (lambda v, s=sep, n=n: _split(v, s, n))
       for sep in SPACES for n in (1, 8)},
    **{f"split by {sep.encode('unicode_escape').decode()}": (lambda v, s=sep: _split(v, s, 1)) for sep in INVISIBLE},
    "split by a mix": lambda v: "".join(ch + ("\u200b", " ", "\u00a0")[i % 3] for i, ch in enumerate(v)),
    "reversed and split": lambda v: _split(v[::-1], " ", 4),
    "percent-encoded and split": lambda v: _split(_percent(v), "\u200b", 3),
}


@pytest.mark.parametrize("disguise", sorted(DISGUISES))
@pytest.mark.parametrize("which", ["key", "secret"])
def test_a_disguised_key_or_secret_is_masked_in_text(disguise, which):
    value = KEY if which == "key" else SECRET
    text = f'{{"code":-2014,"msg":"API-key format invalid: {DISGUISES[disguise](value)}."}}'
    out = _redactor().redact(text)
    assert not _leaks(out, value), out
    assert out.startswith('{"code":-2014,"msg":"API-key format invalid: ') and out.endswith('."}')


@pytest.mark.parametrize("disguise", sorted(DISGUISES))
def test_a_disguised_key_is_masked_in_results_and_errors(disguise):
    redactor = _redactor()
    echoed = DISGUISES[disguise](KEY)
    data = {"rows": [{"symbol": "BTCUSDT"}, {"note": f"echo <{echoed}>"}], f"k{echoed}": 1}
    assert not redactor.json_is_clean(dumps(data))  # the shortcut never skips the walk here
    for result in (
        success(data, redactor=redactor, max_chars=100_000),
        failure(ExchangeError(status=400, code=-2014, msg=f"API-key format invalid: {echoed}"), redactor=redactor),
    ):
        text = result.content[0].text
        assert not _leaks(text, KEY), text
        assert not _leaks(json.dumps(json.loads(text), ensure_ascii=False), KEY)


def test_clean_text_is_left_alone_spaces_and_percent_signs_included():
    redactor = _redactor()
    for clean in ("nothing to see: BTCUSDT 1.00000000", "up 5% today", "a\u200bb c\u00a0d", "100%20 done"):
        assert redactor.redact(clean) == clean
    assert redactor.json_is_clean(dumps({"note": "up 5% today, see you at 10:00", "s": "BTC USDT"}))


def test_only_the_disguised_secret_is_masked_not_the_text_around_it():
    out = _redactor().redact(f"before {_split(KEY, ' ', 4)} after")
    assert out.startswith("before ") and out.endswith(" after") and KEY[:5] in out


# --- signatures ------------------------------------------------------------------------------

HEX_SIG = secrets.token_hex(32)
B64_SIG = base64.b64encode(secrets.token_bytes(256)).decode()  # an RSA-2048 signature: + / =
ED_SIG = base64.b64encode(secrets.token_bytes(64)).decode()
SIGNATURES = {"hex": HEX_SIG, "base64 (RSA)": B64_SIG, "base64 (Ed25519)": ED_SIG}
LABELLED = {
    "query": "GET /api/v3/order?symbol=BTCUSDT&timestamp=1&signature={s}&x=1",
    "query, percent-encoded": "POST body: symbol=BTCUSDT&signature={q}",
    "JSON member": '{{"code":-1022,"msg":"Signature for this request is not valid.","signature":"{s}"}}',
    "JSON member, spaced": '{{"signature" : "{s}", "x": 1}}',
    "JSON member, upper-case": '{{"SIGNATURE":"{s}"}}',
    "JSON inside a JSON string": '{{\\"signature\\":\\"{s}\\"}}',
    "Python repr": "{{'signature': '{s}'}}",
    "colon": "signature: {s}",
}


def _chunks(value: str, size: int = 6) -> list[str]:
    return [value[i:i + size] for i in range(len(value) - size + 1)]


@pytest.mark.parametrize("form", sorted(LABELLED))
@pytest.mark.parametrize("kind", sorted(SIGNATURES))
def test_a_signature_is_masked_whole_wherever_it_is_labelled(form, kind):
    sig = SIGNATURES[kind]
    quoted = sig.replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")
    text = LABELLED[form].format(s=sig, q=quoted)
    out = _redactor().redact(text)
    for shown in (sig, quoted):
        leaked = [c for c in _chunks(shown) if c in out and c not in text.replace(shown, "")]
        assert not leaked, (out, leaked[:3])  # its head, its middle and its tail
    assert "***" in out


@pytest.mark.parametrize("kind", sorted(SIGNATURES))
def test_a_signature_in_a_string_of_a_result_is_masked_whole(kind):
    sig = SIGNATURES[kind]
    redactor = _redactor()
    data = {"msg": f'upstream said {{"signature":"{sig}"}}', "echo": f"signature={sig}"}
    text = success(data, redactor=redactor, max_chars=100_000).content[0].text
    assert not [c for c in _chunks(sig) if c in text]


# --- the clean-JSON shortcut stays sound --------------------------------------------------------

_PIECES = st.sampled_from([*SPACES, *INVISIBLE, "\\n", "\\", "\\\\n", "%", "%4", '"', "x", ""])


@st.composite
def _disguised(draw) -> str:
    value = draw(st.sampled_from([KEY, SECRET, KEY[::-1], KEY.lower()]))
    cuts = sorted(draw(st.lists(st.integers(0, len(value)), max_size=6)))
    out, last = [], 0
    for cut in cuts:
        out.append(value[last:cut])
        out.append(draw(_PIECES))
        last = cut
    out.append(value[last:])
    return draw(st.text(max_size=3)) + "".join(out) + draw(st.text(max_size=3))


@settings(max_examples=300, deadline=None)
@given(data=st.dictionaries(st.sampled_from(["a", "msg"]), _disguised(), min_size=1, max_size=2))
def test_clean_json_text_still_means_the_walk_changes_nothing(data):
    redactor = _redactor()
    if redactor.json_is_clean(dumps(data)):
        assert redactor.redact_data(data) == data
