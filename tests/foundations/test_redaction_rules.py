"""Each redaction rule on its own, as the user would meet it: what a tool result, an error or a
log line shows when the exchange or a mistake puts a secret in front of it (invariant 1)."""

from __future__ import annotations

import base64
import io
import json
import logging

import httpx
import pytest

from binance_spot_mcp.config import load_settings
from binance_spot_mcp.errors import ExchangeError
from binance_spot_mcp.redact import RedactingFilter, Redactor, encodings, mask_api_key, mask_secret
from binance_spot_mcp.results import failure, json_result, success
from binance_spot_mcp.server import Runtime
from tests.e2e_support import random_token


def _text(result) -> str:
    return result.content[0].text


@pytest.mark.parametrize(("key", "shown"), [("a" * 12, "***"), ("abcdefghijklm", "abcde...jklm"), ("", "***")])
def test_api_key_masks_at_the_length_boundary(key, shown):
    assert mask_api_key(key) == shown


@pytest.mark.parametrize(("secret", "shown"), [("s" * 10, "***"), ("0123456789A", "***...6789A")])
def test_secret_masks_at_the_length_boundary(secret, shown):
    assert mask_secret(secret) == shown


@pytest.mark.parametrize("length", [6, 7, 8])
def test_short_secrets_are_still_redacted(length):
    secret = "Zq9" + "x" * (length - 3)
    r = Redactor()
    r.add_secret(secret)
    r.add_opaque("pP" + "y" * (length - 2))
    out = r.redact(f"a {secret} b {'pP' + 'y' * (length - 2)} c")
    assert secret not in out and "pP" not in out


def test_values_under_the_minimum_are_not_registered():
    r = Redactor()
    r.add_secret("abcde")  # five characters would mask ordinary words everywhere
    assert r.redact("abcde") == "abcde"


def test_a_secret_containing_another_secret_is_replaced_whole():
    inner, outer = "InnerSecret123", "xxInnerSecret123yy"
    r = Redactor()
    r.add_secret(inner)
    r.add_secret(outer)
    assert r.redact(f"[{outer}] [{inner}]") == f"[{mask_secret(outer)}] [{mask_secret(inner)}]"


def test_a_key_that_prefixes_a_secret_does_not_leave_the_secrets_tail():
    key = "PrefixKey12345678"
    secret = key + "TailOfTheSecret99"
    assert secret.startswith(key)
    r = Redactor()
    r.add_api_key(key)
    r.add_secret(secret)
    out = r.redact(f"echo {secret}")
    assert "TailOfTheSecret" not in out and out == f"echo {mask_secret(secret)}"


@pytest.mark.parametrize("word", ["signature", "Signature", "SIGNATURE", "sIgNaTuRe"])
def test_signatures_in_any_case_are_masked(word):
    out = Redactor().redact(f"/api/v3/order?x=1&{word}=deadbeefcafe&y=2")
    assert "deadbeefcafe" not in out and "&y=2" in out


def test_rsa_and_ed25519_base64_signatures_are_masked_in_text_and_json():
    sig = base64.b64encode(bytes(range(64))).decode()  # contains + / and =
    r = Redactor()
    assert sig not in r.redact(f"timestamp=1&signature={sig}")
    assert sig[:10] not in r.redact(f"signature={sig} trailing")
    data = r.redact_data({"echo": {"Signature": sig, "params": [{"signature": sig}]}})
    assert sig not in json.dumps(data)


def test_the_signature_pattern_never_breaks_the_results_json():
    r = Redactor()
    for value in ['q?signature=ab"cd', "q?signature=ab\\cd", 'x signature=\\"y']:
        for result in (json_result({"url": value}, error=False, redactor=r), success(value, redactor=r, max_chars=999)):
            parsed = json.loads(_text(result))  # still valid JSON
            url = parsed["url"] if isinstance(parsed, dict) else parsed
            if "ab" in value:
                assert "signature=***" in url and "ab" not in url.split("signature=***")[1]


def test_an_unterminated_pem_block_is_hidden_to_the_end():
    body = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"
    out = Redactor().redact(f"oops -----BEGIN RSA PRIVATE KEY-----\n{body}\nmore")
    assert body not in out and "oops" in out


def test_other_encodings_of_a_key_and_a_secret_are_redacted():
    key, secret = random_token(), random_token()
    r = Redactor()
    r.add_api_key(key)
    r.add_secret(secret)
    for value in (key, secret):
        raw = value.encode()
        forms = [value.lower(), value.upper(), raw.hex(), raw.hex().upper(), base64.b64encode(raw).decode(),
                 base64.urlsafe_b64encode(raw).decode().rstrip("=")]
        assert set(forms) <= encodings(value)
        out = r.redact(" | ".join(forms))
        for form in forms:
            assert form not in out
        mask = mask_api_key(value) if value == key else mask_secret(value)
        assert [r.redact(form) for form in forms] == [mask] * len(forms)


def test_a_key_with_json_escaped_characters_is_caught_before_serialising():
    secret = 'quo"te\\slash' + random_token(10)
    r = Redactor()
    r.add_secret(secret)
    error = ExchangeError(status=400, code=-1100, msg=f"Illegal characters found in {secret}")
    text = _text(failure(error, redactor=r))
    assert json.dumps(secret)[1:-1] not in text and secret not in text
    assert secret not in json.loads(text)["msg"]
    result = success({"echo": [secret, {secret: 1}]}, redactor=r, max_chars=10_000)
    assert json.dumps(secret)[1:-1] not in _text(result)


def test_the_formatted_log_output_hides_tracebacks_and_stacks():
    secret = random_token()
    r = Redactor()
    r.add_secret(secret)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(RedactingFilter(r))
    logger = logging.getLogger("test.redaction.rules")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        try:
            raise ValueError(f"bad {secret}")
        except ValueError:
            logger.exception("failed with %s", secret, stack_info=True)
        record = logger.makeRecord("x", logging.ERROR, __file__, 1, "pre-rendered", (), None)
        record.exc_text = f"Traceback: {secret}"
        logger.handle(record)
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    output = stream.getvalue()
    assert "Traceback" in output and "ValueError" in output and "Stack (most recent call last)" in output
    assert secret not in output and secret[-5:] in output  # masked, not dropped


@pytest.mark.anyio
async def test_an_exchange_echoing_the_key_in_other_forms_leaks_nothing(tmp_path):
    key, secret = random_token(), random_token()
    (tmp_path / "TOOLS.md").write_text(
        f"## Binance Accounts\n### main\n- API Key: {key}\n- Secret: {secret}\n- Environment: testnet\n"
        "- Base URL: http://127.0.0.1:9\n"
    )

    def echo(request: httpx.Request) -> httpx.Response:
        sent = request.headers["X-MBX-APIKEY"]
        signature = request.url.params.get("signature", "")
        return httpx.Response(
            200,
            json={"lower": sent.lower(), "b64": base64.b64encode(sent.encode()).decode(), "hex": sent.encode().hex(),
                  "signature": signature, "nested": [{"Signature": signature}], "url": str(request.url)},
        )

    runtime = Runtime(
        settings=load_settings(tools_file=str(tmp_path / "TOOLS.md"), environ={"BINANCE_SPOT_MCP_JOURNAL": str(tmp_path / "j")}),
        transport=httpx.MockTransport(echo),
    )
    try:
        result = await runtime.call("get_account", {})
    finally:
        await runtime.aclose()
    text = _text(result)
    body = json.loads(text)
    assert not result.is_error and body["signature"] == "***" and body["nested"] == [{"Signature": "***"}]
    for leaked in (key, key.lower(), base64.b64encode(key.encode()).decode(), key.encode().hex()):
        assert leaked not in text
    assert "signature=***" in body["url"]


# ------------------------------------------------------------------ edges found by mutation testing


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("aB3" + "x" * 21, True),  # 24 characters, three classes
        ("aB3" + "x" * 20, False),  # 23
        ("ab3" + "x" * 29, True),  # 32 characters, two classes
        ("ab3" + "x" * 28, False),  # 31
        ("abcdefghij" * 6, False),  # one class, however long
        ("aB3" + "x" * 40 + ".pem", False),  # a file name
        ("aB3 " + "x" * 40, False),  # prose
        ("AB3" + "X" * 40, True),  # upper and digits, long
        ("aB" + "x" * 40, True),  # upper and lower, long
        ("a3" + "x" * 40, True),  # lower and digits, long
    ],
)
def test_what_counts_as_key_material(value, expected):
    from binance_spot_mcp.redact import looks_like_key_material

    assert looks_like_key_material(value) is expected


def test_the_other_forms_of_a_six_character_secret_are_redacted_with_its_mask():
    secret = "aBc123"
    r = Redactor()
    r.add_secret(secret)
    assert r.redact(f"{secret.upper()} {secret.lower()} {secret.encode().hex()}") == "*** *** ***"
    assert r.redact_data([secret, {"k": secret.lower()}]) == ["***", {"k": "***"}]


def test_longest_first_even_when_the_shorter_sorts_later():
    inner, outer = "zzInnerSecret1", "AAzzInnerSecret1BB"  # "zz..." sorts after "AA..."
    r = Redactor()
    r.add_secret(inner)
    r.add_secret(outer)
    assert r.redact(outer) == mask_secret(outer)


def test_exact_replacement_texts():
    r = Redactor()
    assert r.redact("a&signature=abc123&b") == "a&signature=***&b"
    assert r.redact("x -----BEGIN PRIVATE KEY-----\nQUJD\n-----END PRIVATE KEY----- y") == "x [private key hidden] y"


def test_the_same_value_added_twice_keeps_one_mask():
    r = Redactor()
    r.add_api_key("KeyKeyKeyKey12345")
    r.add_api_key("KeyKeyKeyKey12345")
    assert r.redact("KeyKeyKeyKey12345") == mask_api_key("KeyKeyKeyKey12345")
    assert repr(r).startswith("Redactor(") and "KeyKey" not in repr(r)
