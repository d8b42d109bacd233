"""Masking and redaction: no secret and no full API key ever leaves the process.

``mask_api_key`` and ``mask_secret`` give the skill's display forms (first 5 + last 4 of a
key; only the last 5 of a secret). A ``Redactor`` knows every configured key, secret and
passphrase and replaces any occurrence of one in outgoing text; the server runs it over every
tool result and the logging filter runs it over every log record.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable

MIN_SECRET_LENGTH = 6
# A request signature is as good as the request it signs: never echoed (URLs, bodies, echoes).
_SIGNATURE_RE = re.compile(r"(signature=)[^&\s\"'<>]+", re.I)
_PEM_BLOCK_RE = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|$)", re.S)


def mask_api_key(key: str) -> str:
    """``abcde...wxyz``; short keys are masked whole."""
    if len(key) <= 12:
        return "***"
    return f"{key[:5]}...{key[-4:]}"


def mask_secret(secret: str) -> str:
    """``***...vwxyz``; short secrets are masked whole."""
    if len(secret) <= 10:
        return "***"
    return f"***...{secret[-5:]}"


class Redactor:
    """Replaces every registered sensitive string in text. Thread-safe; grows as accounts load."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._replacements: dict[str, str] = {}
        self._pattern: re.Pattern[str] | None = None

    def add_api_key(self, key: str) -> None:
        self._add(key, mask_api_key(key))

    def add_secret(self, secret: str) -> None:
        self._add(secret, mask_secret(secret))

    def add_opaque(self, value: str) -> None:
        """A value shown as nothing at all (passphrases)."""
        self._add(value, "***")

    def _add(self, value: str, replacement: str) -> None:
        value = value.strip()
        if len(value) < MIN_SECRET_LENGTH:
            return
        with self._lock:
            if self._replacements.get(value) == replacement:
                return
            self._replacements[value] = replacement
            # longest first, so a secret that contains another is replaced whole
            ordered = sorted(self._replacements, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(v) for v in ordered))

    def redact(self, text: str) -> str:
        text = _PEM_BLOCK_RE.sub("[private key hidden]", text)
        text = _SIGNATURE_RE.sub(r"\1***", text)
        pattern = self._pattern
        if pattern is None:
            return text
        replacements = self._replacements
        return pattern.sub(lambda m: replacements[m.group(0)], text)

    def redact_all(self, texts: Iterable[str]) -> list[str]:
        return [self.redact(t) for t in texts]

    def __repr__(self) -> str:
        return f"Redactor({len(self._replacements)} values)"


class RedactingFilter(logging.Filter):
    """A logging filter that formats each record, redacts it, and freezes the result."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self._redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info:
            formatter = logging.Formatter()
            message = f"{message}\n{formatter.formatException(record.exc_info)}"
            record.exc_info = None
            record.exc_text = None
        record.msg = self._redactor.redact(message)
        record.args = None
        return True
