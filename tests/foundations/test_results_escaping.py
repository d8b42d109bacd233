"""Everything a tool result carries from outside is escaped by one function (finding 10 of issue 22).

``results.visible`` escapes, in every string and key of a result, the characters a reader cannot
see or that change how text is shown: DEL, C1 controls, bidi overrides and isolates, the line and
paragraph separators, zero-width characters, the byte-order mark, soft hyphen; each with
``redact.escape_text``, the function approval previews use. Control characters below U+0020 are
left to JSON, which escapes them itself. Printable text in any script is untouched, and a result
with nothing to escape is exactly what it was.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from binance_spot_mcp.errors import ExchangeError
from binance_spot_mcp.redact import Redactor, escape_text
from binance_spot_mcp.results import dumps, failure, json_result, success, visible
from tests.e2e_support import World, memory_client, result_json, stream_environ

pytestmark = pytest.mark.anyio

HOSTILE = {
    "del": "\x7f", "c1-nel": "\x85", "c1-csi": "\x9b", "rlo": "\u202e", "lri": "\u2066", "pdi": "\u2069",
    "line-sep": "\u2028", "para-sep": "\u2029", "zwsp": "\u200b", "zwj": "\u200d", "bom": "\ufeff",
    "soft-hyphen": "\u00ad", "tag": "\U000e0041", "private": "\ue000",
}


def _raw_chars(text: str) -> list[str]:
    return [ch for ch in text if not ch.isprintable()]


@pytest.mark.parametrize("name", list(HOSTILE), ids=list(HOSTILE))
def test_success_escapes_every_invisible_character_in_values_and_keys(name: str) -> None:
    ch = HOSTILE[name]
    data = {"symbol": f"BTC{ch}USDT", f"k{ch}": [{"msg": f"a{ch}b"}], "n": 1}
    result = success(data, redactor=Redactor(), max_chars=10_000)
    text = result.content[0].text
    assert _raw_chars(text) == []
    back = json.loads(text)
    assert back["symbol"] == f"BTC{escape_text(ch)}USDT" and back[f"k{escape_text(ch)}"] == [{"msg": f"a{escape_text(ch)}b"}]
    assert back["n"] == 1


def test_printable_text_in_any_script_and_json_escapes_are_untouched() -> None:
    data = {"symbol": "这是测试币456", "note": "é ü ß — “quotes”", "lines": "a\nb\tc", "quote": 'x"y\\z'}
    text = success(data, redactor=Redactor(), max_chars=10_000).content[0].text
    assert text == dumps(data) and json.loads(text) == data


def test_errors_and_small_payloads_are_escaped_too() -> None:
    error = ExchangeError(status=400, code=-1100, msg="Illegal characters found in parameter \u202egnp.exe\u2028x\x7f")
    for result in (failure(error, redactor=Redactor()), json_result({"m": "\u200bhidden"}, error=False, redactor=Redactor())):
        text = result.content[0].text
        assert _raw_chars(text) == []
    assert "\\u202egnp.exe\\u2028x\\x7f" in json.loads(failure(error, redactor=Redactor()).content[0].text)["msg"]


def test_redaction_comes_before_escaping_and_a_cut_result_stays_within_the_cap() -> None:
    redactor = Redactor()
    secret = "S3cretValueThatIsLongEnough12345"
    redactor.add_secret(secret)
    data = {"rows": [{"echo": f"{secret}\u202e", "pad": "\u200b" * 50} for _ in range(200)]}
    text = success(data, redactor=redactor, max_chars=5_000).content[0].text
    assert len(text) <= 5_000 and secret not in text and _raw_chars(text) == []
    body = json.loads(text)
    assert body["_notice"]["truncated"] is True and body["rows"][0]["echo"].endswith("\\u202e")


def test_visible_walks_json_and_leaves_other_values_alone() -> None:
    value: Any = {"a": ["\u2028", 1, 2.5, None, True, {"b\u200b": "c"}], "d": ("\x85",)}
    assert visible(value) == {"a": ["\\u2028", 1, 2.5, None, True, {"b\\u200b": "c"}], "d": ["\\x85"]}
    clean = {"a": ["x", 1]}
    assert visible(clean) == clean


async def test_read_stream_escapes_what_a_stream_frame_carried(world: World) -> None:
    """End to end: an account event with hostile characters reaches read_stream escaped."""
    streams = world.fake.streams
    async with memory_client(world.tools_file, "legacy", base_url=world.base_url,
                             extra_env=stream_environ(world.fake)) as client:
        sid = result_json(await client.call_tool("subscribe_stream", {"account": "main",
                                                                      "streams": ["balanceUpdate"]}))["subscription"]
        streams.forge_user_event(world.keys.hmac_api_key, {"e": "balanceUpdate", "a": "BTC\u202eCSU", "d": "1\u2028\x7f",
                                                           "note\u200b": "\x9b31m"})
        result = await client.call_tool("read_stream", {"subscription": sid, "wait_seconds": 10, "raw": True})
    text = result.content[0].text
    assert not result.is_error and _raw_chars(text) == [], text
    event = json.loads(text)["events"][0]["data"]
    assert event["a"] == "BTC\\u202eCSU" and event["d"] == "1\\u2028\\x7f" and event["note\\u200b"] == "\\x9b31m"
