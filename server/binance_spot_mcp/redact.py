"""Masking and redaction: no secret and no full API key ever leaves the process.

``mask_api_key`` and ``mask_secret`` give the skill's display forms (first 5 + last 4 of a
key; only the last 5 of a secret). A ``Redactor`` knows every configured key, secret and
passphrase and replaces any occurrence of one in outgoing text; the server runs it over every
tool result and the logging filter runs it over every log record.
"""

from __future__ import annotations

import base64
import logging
import re
import threading
from typing import Any

MIN_SECRET_LENGTH = 6
MASK = "***"
# A request signature is as good as the request it signs: never echoed (URLs, bodies, echoes).
# The value stops at a backslash too, so a JSON escape (\" or \\) is never cut in half.
_SIGNATURE_RE = re.compile(r"(signature=)[^&\s\"'<>\\]+", re.I)
_PEM_BLOCK_RE = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|$)", re.S)
_SIGNATURE_KEY = "signature"
_PEM_HEADER = "-----BEGIN "
_SIGNATURE_PARAM = "signature="
# A member named signature (any case) as JSON text shows it: with its quotes.
_SIGNATURE_MEMBER = '"signature"'
# For text that is not ASCII, where case-insensitive matching reaches beyond str.lower (the
# regular expressions treat the long s and the Kelvin sign as s and k).
_FIXED_ANY_CASE = re.compile(r"(?i:signature=)")
_FIXED_ANY_CASE_JSON = re.compile(r'(?i:signature=|"signature")')
# What json.dumps writes as it is, with or without ensure_ascii: printable ASCII but quote and backslash.
_VERBATIM_IN_JSON = re.compile(r'[\x20\x21\x23-\x5b\x5d-\x7e]*\Z')
_KEY_LIKE_RE = re.compile(r"^[A-Za-z0-9+/=_-]{16,}$")


def looks_like_key_material(value: str) -> bool:
    """True for text such as an API key or secret (not for names, paths, URLs or prose)."""
    if not _KEY_LIKE_RE.match(value):
        return False
    classes = sum((any(c.isupper() for c in value), any(c.islower() for c in value), any(c.isdigit() for c in value)))
    return (classes >= 3 and len(value) >= 24) or (classes == 2 and len(value) >= 32)


def encodings(value: str) -> set[str]:
    """The forms an exchange or a proxy might echo a key in: as given, lower and upper case,
    hex and base64 (standard and URL-safe, with and without padding) of its UTF-8 bytes."""
    raw = value.encode("utf-8")
    forms = {value, value.lower(), value.upper(), raw.hex(), raw.hex().upper()}
    for encoded in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
        text = encoded.decode("ascii")
        forms.update({text, text.rstrip("=")})
    return {f for f in forms if len(f) >= MIN_SECRET_LENGTH}


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
        # every registered value and encoding (for the quick check) and the pattern that replaces
        # them, swapped together so a redaction running while an account loads sees one or the other
        self._known: tuple[tuple[str, ...], re.Pattern[str] | None] = ((), None)
        # a registered form JSON text may not show verbatim (quote, backslash, control or non-ASCII
        # character): then only the walk over the data can be trusted
        self._escaped_form = False

    def add_api_key(self, key: str) -> None:
        self._add(key, mask_api_key(key))

    def add_secret(self, secret: str) -> None:
        self._add(secret, mask_secret(secret))

    def add_opaque(self, value: str) -> None:
        """A value shown as nothing at all (passphrases, key material in the wrong place)."""
        self._add(value, MASK)

    def _add(self, value: str, replacement: str) -> None:
        value = value.strip()
        if len(value) < MIN_SECRET_LENGTH:
            return
        with self._lock:
            if self._replacements.get(value) == replacement:
                return
            for form in encodings(value):
                self._replacements.setdefault(form, replacement)
            self._replacements[value] = replacement
            # longest first, so a secret that contains another is replaced whole
            ordered = sorted(self._replacements, key=len, reverse=True)
            # before the new forms are visible, so no check sees them without this flag
            self._escaped_form = self._escaped_form or not all(_VERBATIM_IN_JSON.match(f) for f in self._replacements)
            self._known = (tuple(ordered), re.compile("|".join(re.escape(v) for v in ordered)))

    @staticmethod
    def _has_hit(text: str, forms: tuple[str, ...], *, member: bool = False) -> bool:
        """Whether ``text`` holds anything ``redact`` would change (with ``member``, also a JSON
        member named signature). Substring searches, not one regular expression with every form
        as an alternative: that scans each position once per form and took milliseconds on a
        30 kB result."""
        if any(form in text for form in forms) or _PEM_HEADER in text:
            return True
        if text.isascii():
            lowered = text.lower()
            return _SIGNATURE_PARAM in lowered or (member and _SIGNATURE_MEMBER in lowered)
        return (_FIXED_ANY_CASE_JSON if member else _FIXED_ANY_CASE).search(text) is not None

    def redact(self, text: str) -> str:
        forms, pattern = self._known
        if not self._has_hit(text, forms):  # the usual case: nothing to hide, no substitution pass at all
            return text
        text = _PEM_BLOCK_RE.sub("[private key hidden]", text)
        text = _SIGNATURE_RE.sub(r"\1***", text)
        if pattern is None:
            return text
        replacements = self._replacements
        return pattern.sub(lambda m: replacements[m.group(0)], text)

    def redact_data(self, value: Any) -> Any:
        """``value`` (parsed JSON: dicts, lists, strings, numbers) with every string redacted and
        every ``signature`` member masked, before it is serialised: JSON escaping can no longer
        hide a key from the text pass, and a cut can never land inside a secret."""
        return self._walk(value)

    def json_is_clean(self, text: str) -> bool:
        """True when ``text``, the JSON (``json.dumps``) of some data, proves that ``redact_data``
        would return that data unchanged: no registered value, no ``signature=``, no PEM header and
        no member named signature occurs in it. Sound because every string and key of the data
        appears in the text verbatim apart from escaped characters, and no registered value holds
        one (else this is always False and the data must be walked)."""
        return not self._escaped_form and not self._has_hit(text, self._known[0], member=True)

    def _walk(self, value: Any) -> Any:
        if isinstance(value, str):
            # shorter than any registered value, "signature=" and a PEM header: nothing to hide
            return self.redact(value) if len(value) >= MIN_SECRET_LENGTH else value
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                name = self._walk(key) if isinstance(key, str) else key
                if isinstance(key, str) and key.lower() == _SIGNATURE_KEY and item is not None:
                    out[name] = MASK
                else:
                    out[name] = self._walk(item)
            return out
        if isinstance(value, list | tuple):
            return [self._walk(item) for item in value]
        return value

    def __repr__(self) -> str:
        return f"Redactor({len(self._replacements)} values)"


class RedactingFilter(logging.Filter):
    """A logging filter that formats each record, redacts it, and freezes the result."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self._redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        formatter = logging.Formatter()
        if record.exc_info:
            message = f"{message}\n{formatter.formatException(record.exc_info)}"
        elif record.exc_text:
            message = f"{message}\n{record.exc_text}"
        if record.stack_info:
            message = f"{message}\n{formatter.formatStack(record.stack_info)}"
        # nothing is left for a handler's formatter to render again, unredacted
        record.exc_info = None
        record.exc_text = None
        record.stack_info = None
        record.msg = self._redactor.redact(message)
        record.args = None
        return True


def escape_text(value: Any) -> str:
    """``value`` as one line of visible text: control and non-printing characters escaped."""
    text = str(value)
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x100:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return "".join(out)
