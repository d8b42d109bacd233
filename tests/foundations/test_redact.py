"""Masking forms and the redactor."""

from __future__ import annotations

import logging

from binance_spot_mcp.redact import RedactingFilter, Redactor, mask_api_key, mask_secret

KEY = "su1QcAbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcd8akf"
SECRET = "sEcReT0123456789abcdefghijklmnopqrstuvwxyzaws1"


def test_mask_forms_follow_the_skill():
    assert mask_api_key(KEY) == "su1Qc...8akf"
    assert mask_secret(SECRET) == "***...zaws1"
    assert mask_api_key("short") == "***"
    assert mask_secret("tiny") == "***"


def test_redactor_replaces_every_occurrence_and_pem_blocks():
    r = Redactor()
    r.add_api_key(KEY)
    r.add_secret(SECRET)
    r.add_opaque("my passphrase")
    text = f"key={KEY} again {KEY}; secret:{SECRET}; pass my passphrase"
    out = r.redact(text)
    assert KEY not in out and SECRET not in out and "my passphrase" not in out
    assert "su1Qc...8akf" in out and "***...zaws1" in out
    pem = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA\n-----END PRIVATE KEY-----"
    assert "MC4CAQ" not in r.redact(f"oops {pem} end")


def test_secret_containing_a_key_is_replaced_whole():
    r = Redactor()
    r.add_api_key("abcdefghijklmnop")
    r.add_secret("XXabcdefghijklmnopYY")
    assert r.redact("XXabcdefghijklmnopYY") == "***...nopYY"


def test_logging_filter_redacts_messages_args_and_tracebacks(caplog):
    r = Redactor()
    r.add_secret(SECRET)
    logger = logging.getLogger("test.redact")
    handler_filter = RedactingFilter(r)
    record = logger.makeRecord("test.redact", logging.ERROR, __file__, 1, "value %s", (SECRET,), None)
    assert handler_filter.filter(record)
    assert SECRET not in record.getMessage()
    try:
        raise ValueError(SECRET)
    except ValueError:
        import sys

        record = logger.makeRecord("t", logging.ERROR, __file__, 1, "boom", (), sys.exc_info())
    handler_filter.filter(record)
    assert SECRET not in record.getMessage() and "ValueError" in record.getMessage()


def test_signatures_are_never_echoed():
    r = Redactor()
    text = "GET /api/v3/account?timestamp=1&signature=c8db56825ae71d6d&x=1 body symbol=A&signature=Ab%2B/9=="
    out = r.redact(text)
    assert "c8db56825ae71d6d" not in out and "Ab%2B" not in out
    assert out.count("signature=***") == 2 and "&x=1" in out
