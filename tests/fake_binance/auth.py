"""API keys, signature verification and timing security for SIGNED endpoints."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Union
from urllib.parse import unquote_plus

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from .errors import ApiError, mandatory
from .params import RawRequest

PublicKey = Union[rsa.RSAPublicKey, ed25519.Ed25519PublicKey]
_API_KEY_RE = re.compile(r"^[A-Za-z0-9]{1,128}$")
MAX_RECV_WINDOW = Decimal(60000)
DEFAULT_RECV_WINDOW = Decimal(5000)


@dataclass(frozen=True)
class ApiKey:
    """A registered API key: either an HMAC secret or an RSA/Ed25519 public key."""

    api_key: str
    hmac_secret: str | None = None
    public_key: PublicKey | None = None

    @property
    def key_type(self) -> str:
        """``HMAC``, ``RSA`` or ``ED25519``."""
        if self.hmac_secret is not None:
            return "HMAC"
        return "RSA" if isinstance(self.public_key, rsa.RSAPublicKey) else "ED25519"


def load_public_key(pem: str | bytes) -> PublicKey:
    """Load an RSA or Ed25519 public key from PEM (a private key PEM is accepted too)."""
    data = pem.encode() if isinstance(pem, str) else pem
    if b"PRIVATE KEY" in data:
        key = serialization.load_pem_private_key(data, password=None).public_key()
    else:
        key = serialization.load_pem_public_key(data)
    if not isinstance(key, (rsa.RSAPublicKey, ed25519.Ed25519PublicKey)):
        raise ValueError("only RSA and Ed25519 keys are supported")
    return key


def check_api_key_header(value: str | None) -> str:
    """-2014 when the X-MBX-APIKEY header is missing or malformed."""
    if not value or not _API_KEY_RE.match(value):
        raise ApiError(-2014, "API-key format invalid.", status=401)
    return value


def _percent_encode_non_ascii(raw: bytes) -> bytes:
    return b"".join(b"%%%02X" % byte if byte > 0x7F else bytes([byte]) for byte in raw)


def _strip_signature(raw: bytes) -> tuple[bytes, list[bytes]]:
    kept, sigs = [], []
    for part in raw.split(b"&") if raw else []:
        if part.split(b"=", 1)[0] == b"signature":
            sigs.append(part.split(b"=", 1)[1] if b"=" in part else b"")
        else:
            kept.append(part)
    return b"&".join(kept), sigs


def signature_payload(req: RawRequest) -> tuple[bytes, str | None]:
    """Return (signed payload, received signature) from the raw query string and body.

    The payload is the raw query string without its ``signature`` component,
    concatenated (no separator) with the raw body without its ``signature``
    component; non-ASCII bytes are percent-encoded first.
    """
    query, qsigs = _strip_signature(req.query)
    body, bsigs = _strip_signature(req.body if req.method != "GET" else b"")
    sigs = qsigs + bsigs
    if len(sigs) > 1:
        raise ApiError(-1101, "Duplicate values for a parameter detected.")
    signature = unquote_plus(sigs[0].decode("latin-1")) if sigs else None
    return _percent_encode_non_ascii(query + body), signature


def verify_signature(key: ApiKey, payload: bytes, signature: str) -> bool:
    """Verify HMAC-SHA256 (hex, case-insensitive), RSA PKCS#1 v1.5 SHA-256 or Ed25519 (base64)."""
    if key.hmac_secret is not None:
        expected = hmac.new(key.hmac_secret.encode(), payload, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, signature.lower())
    try:
        raw_sig = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        return False
    try:
        if isinstance(key.public_key, rsa.RSAPublicKey):
            key.public_key.verify(raw_sig, payload, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(key.public_key, ed25519.Ed25519PublicKey):
            key.public_key.verify(raw_sig, payload)
        else:
            return False
    except InvalidSignature:
        return False
    return True


def parse_recv_window(value: str | None) -> Decimal:
    """Parse recvWindow (ms, up to 3 decimals); enforce the documented 60000 maximum."""
    if value is None:
        return DEFAULT_RECV_WINDOW
    if not re.match(r"^[0-9]{1,20}(\.[0-9]{1,3})?$", value):
        raise ApiError(-1100, "Illegal characters found in parameter 'recvWindow'; legal range is '^[0-9]{1,20}(\\.[0-9]{1,3})?$'.")
    window = Decimal(value)
    if window > MAX_RECV_WINDOW:
        raise ApiError(-1102, "'recvWindow' contains unexpected value. Cannot be greater than 60000.")
    if window <= 0:
        raise mandatory("recvWindow")
    return window


def parse_timestamp_ms(value: str | None) -> Decimal:
    """Parse ``timestamp`` given in milliseconds (13 digits) or microseconds (16 digits)."""
    if value is None or value == "":
        raise mandatory("timestamp")
    if not re.match(r"^[0-9]{1,20}$", value):
        raise ApiError(-1100, "Illegal characters found in parameter 'timestamp'; legal range is '^[0-9]{1,20}$'.")
    ts = Decimal(value)
    if len(value) >= 16:  # microseconds
        ts = ts / 1000
    return ts


def check_timing(timestamp_ms: Decimal, recv_window: Decimal, server_ms: Decimal) -> None:
    """Reject with -1021 when too far ahead (>= +1s) or older than recvWindow."""
    if timestamp_ms >= server_ms + 1000:
        raise ApiError(-1021, "Timestamp for this request was 1000ms ahead of the server's time.")
    if server_ms - timestamp_ms > recv_window:
        raise ApiError(-1021, "Timestamp for this request is outside of the recvWindow.")

