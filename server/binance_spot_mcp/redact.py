"""Masking and redaction: no secret and no full API key ever leaves the process.

``mask_api_key`` and ``mask_secret`` give the skill's display forms (first 5 + last 4 of a
key; only the last 5 of a secret). A ``Redactor`` knows every configured key, secret and
passphrase and replaces any occurrence of one in outgoing text; the server runs it over every
tool result and the logging filter runs it over every log record.

Disguised echoes count too: a registered value (or its reverse) is found after its text is
normalised -- spaces, line breaks, control and invisible characters removed (``_HIDERS``) and
``%XX`` decoded -- and the span of the original text it came from is masked. A request signature
is masked whole wherever it is labelled (``signature=``, a ``"signature"`` member in JSON text,
``signature: ...``). The clean-text path stays one substring scan plus, only where the text holds a
separator or a ``%``, one more over its normalised copy.
"""

from __future__ import annotations

import base64
import logging
import re
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

MIN_SECRET_LENGTH = 6
MASK = "***"
DISGUISED_MASK = "[text hidden: it held a secret in a form that could not be masked in place]"
# A request signature is as good as the request it signs: never echoed (URLs, bodies, echoes).
# The value stops at a backslash too, so a JSON escape (\" or \\) is never cut in half.
# Labelled: signature=, signature: ..., "signature": "..." and 'signature': '...' (quoted values
# only, so JSON text stays JSON; the quotes may be JSON-escaped, as JSON inside a JSON string has
# them). The value runs to where a URL, JSON or text value ends: base64 (+ / =) and
# percent-encoding are masked whole.
_SIGNATURE_RE = re.compile(r"""(signature(?:\s*=\s*|:\s*|\\?["']\s*[:=]\s*\\?["']))[^&\s"'<>\\,;}\]]+""", re.IGNORECASE)
# What str.lower leaves of "signature" in any case, for a cheap first look: the regular expressions
# also take the long s (and other case variants of s and i) for s and i, never of these letters.
_SIGNATURE_TAIL = "gnatur"
_PEM_BLOCK_RE = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|$)", re.DOTALL)
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
# What may hide inside an echoed secret: any space or line break, control characters, and the
# invisible format characters (zero-width, joiners, soft hyphen, bidi marks and isolates, BOM).
_SEPARATOR_CLASS = r"\s\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff"
_SEPARATORS = re.compile(f"[{_SEPARATOR_CLASS}]+")
_ASCII_SEPARATORS = bytes(range(0x21)) + b"\x7f"  # the ASCII part of _SEPARATOR_CLASS, space included
# ... and, in JSON text, how json.dumps spells a control character (an escaped backslash is
# matched first and kept, so the n of \\n is never taken for a line break)
_JSON_ESCAPES = re.compile(r"(\\\\)|\\[nrtbf]|\\u00[01][0-9a-fA-F]")
# The separators in one pass that also yields each %XX (for mapping a hit back to the original text).
_HIDERS = re.compile(f"(%[0-9A-Fa-f]{{2}})|[{_SEPARATOR_CLASS}]+")


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
    # inside longer base64 (an echoed "key:secret", say) the value starts at any byte offset: the
    # whole 3-byte groups from its first, second or third byte on are spelled the same anywhere
    for start in (0, 1, 2):
        core = raw[start:][: (len(raw) - start) // 3 * 3]
        if len(core) >= 2 * MIN_SECRET_LENGTH:
            forms.update({base64.b64encode(core).decode("ascii"), base64.urlsafe_b64encode(core).decode("ascii")})
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
        self._values: set[str] = set()  # the registered values themselves (not their encodings)
        # every registered value and encoding (for the quick check) and the pattern that replaces
        # them, then the same for their normalised forms (``_normalised``), swapped together so a
        # redaction running while an account loads sees one set or the other
        self._known: _Known = _Known((), None, (), None, {})
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
            self._values.add(value)
            # longest first, so a secret that contains another is replaced whole
            ordered = sorted(self._replacements, key=len, reverse=True)
            # a value (or its reverse) in any case, looked for in the lower-cased normalised text
            normal: dict[str, str] = {}
            for registered, shown in self._replacements.items():
                if registered in self._values:
                    for form in (registered, registered[::-1]):
                        squeezed = _normalised(form).lower()
                        if len(squeezed) >= MIN_SECRET_LENGTH:
                            normal.setdefault(squeezed, shown)
            hidden = sorted(normal, key=len, reverse=True)
            # the scan for those covers the values in any case: the quick check needs only the others
            direct = [f for f in ordered if _normalised(f).lower() not in normal]
            # before the new forms are visible, so no check sees them without this flag
            self._escaped_form = self._escaped_form or not all(_VERBATIM_IN_JSON.match(f) for f in self._replacements)
            self._known = _Known(
                tuple(direct), _alternatives(ordered), tuple(hidden), _alternatives(hidden, any_case=True), normal
            )

    @staticmethod
    def _has_hit(text: str, known: _Known, *, member: bool = False, json_text: bool = False) -> bool:
        """Whether ``text`` holds anything ``redact`` would change (with ``member``, also a JSON
        member named signature; with ``json_text``, ``text`` is JSON text, whose escaped control
        characters count as separators). Substring searches, not one regular expression with every form
        as an alternative: that scans each position once per form and took milliseconds on a
        30 kB result."""
        if any(form in text for form in known.forms) or _PEM_HEADER in text:
            return True
        lowered = text.lower()
        if _SIGNATURE_TAIL in lowered:  # "signature" in some case (the long s included): look closer
            if text.isascii():
                if _SIGNATURE_PARAM in lowered or (member and _SIGNATURE_MEMBER in lowered):
                    return True
            elif (_FIXED_ANY_CASE_JSON if member else _FIXED_ANY_CASE).search(text):
                return True
            if _SIGNATURE_RE.search(text):
                return True
        return _disguised_hit(lowered, known.hidden, json_text=json_text)

    def redact(self, text: str) -> str:
        known = self._known
        if not self._has_hit(text, known):  # the usual case: nothing to hide, no substitution pass at all
            return text
        text = _PEM_BLOCK_RE.sub("[private key hidden]", text)
        text = _SIGNATURE_RE.sub(r"\1***", text)
        if known.pattern is None:
            return text
        replacements = self._replacements
        text = known.pattern.sub(lambda m: replacements[m.group(0)], text)
        if known.hidden_pattern is not None and _disguised_hit(text.lower(), known.hidden):
            text = _unmask_disguised(text, known.hidden_pattern, known.hidden_replacements)
            if _disguised_hit(text.lower(), known.hidden):  # spelled so that no span could be found
                return DISGUISED_MASK
        return text

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
        return not self._escaped_form and not self._has_hit(text, self._known, member=True, json_text=True)

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


@dataclass(frozen=True)
class _Known:
    """The registered forms, longest first, that the quick check looks for verbatim (hex, base64:
    the values themselves are in ``hidden``) and the pattern that replaces every form; then the
    values and their reverses normalised (``_normalised``) and lower-cased, the pattern that finds
    them in any case, and what each is replaced by."""

    forms: tuple[str, ...]
    pattern: re.Pattern[str] | None
    hidden: tuple[str, ...]
    hidden_pattern: re.Pattern[str] | None
    hidden_replacements: dict[str, str]


def _alternatives(forms: list[str], *, any_case: bool = False) -> re.Pattern[str] | None:
    flags = re.IGNORECASE if any_case else 0
    return re.compile("|".join(re.escape(f) for f in forms), flags) if forms else None


def _normalised(text: str, *, json_text: bool = False) -> str:
    """``text`` as a disguised echo reads once undone: separators and invisible characters removed
    (in ``json_text``, also their JSON escapes, ``\\n`` or ``\\u0000``), then %XX decoded. Text with
    none of them is returned as it is (the same object)."""
    if text.isascii():
        raw = text.encode("ascii")
        kept = raw.translate(None, _ASCII_SEPARATORS)  # in C, about a byte a nanosecond
        squeezed = text if len(kept) == len(raw) else kept.decode("ascii")
    else:
        # UTF-8 never uses bytes under 0x80 inside a longer character: deleting them is safe
        raw = text.encode("utf-8", "surrogatepass")
        squeezed = raw.translate(None, _ASCII_SEPARATORS).decode("utf-8", "surrogatepass")
        if not squeezed.isprintable():  # other spaces, controls and invisible format characters
            squeezed = _SEPARATORS.sub("", squeezed)
        if squeezed == text:
            squeezed = text
    if json_text and "\\" in squeezed:
        squeezed = _JSON_ESCAPES.sub(r"\1", squeezed)
    if "&#" in squeezed or "\\u" in squeezed:  # HTML character references, \u0041 escapes
        squeezed = _SEPARATORS.sub("", _CHAR_REFERENCE.sub(_referenced, squeezed))  # \u200b decodes to a hider
    for _ in range(3):  # percent-encoded once, twice (%254B) or three times
        if "%" not in squeezed:
            break
        squeezed = unquote(squeezed, errors="replace")
    return squeezed


# An HTML numeric character reference or a JSON/Python \uXXXX escape: what a reader decodes.
_CHAR_REFERENCE = re.compile(r"&#[xX]([0-9a-fA-F]{1,6});?|&#([0-9]{1,7});?|\\u([0-9a-fA-F]{4})")


def _referenced(match: re.Match[str]) -> str:
    hex_ref, decimal, escape = match.groups()
    code = int(hex_ref or escape, 16) if (hex_ref or escape) else int(decimal)
    return chr(code) if 0 < code < 0x110000 else ""


def _disguised_hit(lowered: str, hidden: tuple[str, ...], *, json_text: bool = False) -> bool:
    """Whether a registered value or its reverse (both lower-cased in ``hidden``) is in the
    lower-cased text ``lowered``, behind separators or percent-encoding or not."""
    if not hidden:
        return False
    normal = _normalised(lowered, json_text=json_text)
    if "%" in lowered or "&#" in lowered or "\\u" in lowered:
        normal = normal.lower()  # %4B, &#75; and \u004b decode to K
    return any(form in normal for form in hidden)


def _unmask_disguised(text: str, pattern: re.Pattern[str], replacements: dict[str, str]) -> str:
    """Mask each registered value found in the normalised ``text``, over the span of the original
    text it was spelled in (separators and %XX included). The slow path: only after a hit."""
    chars: list[str] = []
    starts: list[int] = []  # where in ``text`` each character of the normalised text began
    ends: list[int] = []
    position = 0
    for match in _HIDERS.finditer(text):
        for i in range(position, match.start()):
            chars.append(text[i])
            starts.append(i)
            ends.append(i + 1)
        if match.group(1):  # %XX: one character, three in the original
            chars.append(chr(int(match.group(1)[1:], 16)))
            starts.append(match.start())
            ends.append(match.end())
        position = match.end()
    for i in range(position, len(text)):
        chars.append(text[i])
        starts.append(i)
        ends.append(i + 1)
    normal = "".join(chars)
    spans = [
        (starts[m.start()], ends[m.end() - 1], replacements.get(m.group(0).lower(), MASK))
        for m in pattern.finditer(normal)
    ]
    for start, end, replacement in reversed(spans):
        text = text[:start] + replacement + text[end:]
    return text


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
