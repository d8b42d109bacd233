"""Request signing: one small interface, three Binance key types.

A ``Signer`` turns the exact payload bytes into the ``signature`` value:

* HMAC-SHA256 over the payload with the API secret, hex encoded;
* RSA PKCS#1 v1.5 with SHA-256, base64 encoded;
* Ed25519, base64 encoded.

Another venue with another scheme would add its own signer; nothing above this module
knows which algorithm is in use. Key material is kept in private attributes and never
appears in ``repr``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from binance_spot_mcp.safe_files import UnsafeFile, read_file

HMAC_SHA256, RSA, ED25519 = "HMAC_SHA256", "RSA", "ED25519"
MAX_KEY_FILE_BYTES = 64 * 1024


class KeyLoadError(Exception):
    """A private key file could not be used; the message names the file, never its content."""


class Signer(Protocol):
    kind: str

    def sign(self, payload: bytes) -> str: ...

    def identity(self) -> bytes: ...


class HmacSigner:
    kind = HMAC_SHA256

    def __init__(self, secret: str) -> None:
        self._secret = secret.encode("utf-8")

    def sign(self, payload: bytes) -> str:
        return hmac.new(self._secret, payload, hashlib.sha256).hexdigest()

    def identity(self) -> bytes:
        """A one-way digest of the key, to tell keys apart (never the key itself)."""
        return hashlib.sha256(b"hmac-identity\x00" + self._secret).digest()

    def __repr__(self) -> str:
        return "HmacSigner(<secret hidden>)"


class RsaSigner:
    kind = RSA

    def __init__(self, key: rsa.RSAPrivateKey) -> None:
        self._key = key

    def sign(self, payload: bytes) -> str:
        signature = self._key.sign(payload, padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(signature).decode("ascii")

    def identity(self) -> bytes:
        """The public key (DER): tells keys apart and reveals nothing secret."""
        return self._key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)

    def __repr__(self) -> str:
        return f"RsaSigner(<{self._key.key_size}-bit key hidden>)"


class Ed25519Signer:
    kind = ED25519

    def __init__(self, key: ed25519.Ed25519PrivateKey) -> None:
        self._key = key

    def sign(self, payload: bytes) -> str:
        return base64.b64encode(self._key.sign(payload)).decode("ascii")

    def identity(self) -> bytes:
        """The public key (raw): tells keys apart and reveals nothing secret."""
        return self._key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    def __repr__(self) -> str:
        return "Ed25519Signer(<key hidden>)"


def signer_from_private_key(pem: bytes, passphrase: str | None, *, source: str) -> RsaSigner | Ed25519Signer:
    """Load a PEM private key and pick RSA or Ed25519 from the key itself."""
    password = passphrase.encode("utf-8") if passphrase else None
    try:
        key = serialization.load_pem_private_key(pem, password=password)
    except TypeError as exc:
        if password is None:
            raise KeyLoadError(f"{source} is encrypted: add a 'Private Key Passphrase' line") from None
        raise KeyLoadError(f"{source} is not encrypted: remove the 'Private Key Passphrase' line") from exc
    except (ValueError, UnsupportedAlgorithm):
        hint = " or the passphrase is wrong" if password else ""
        raise KeyLoadError(f"{source} is not a readable PEM private key{hint}") from None
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < 2048:
            raise KeyLoadError(f"{source} holds a {key.key_size}-bit RSA key; Binance needs 2048 bits or more")
        return RsaSigner(key)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return Ed25519Signer(key)
    raise KeyLoadError(f"{source} holds a {type(key).__name__}; Binance takes RSA or Ed25519 keys")


def signer_from_key_file(
    path: Path, passphrase: str | None, *, allow_readable: bool = False
) -> RsaSigner | Ed25519Signer:
    """Load the signing key in ``path``: a small 0600 regular file of this user (``safe_files``)."""
    source = f"private key file {path}"
    try:
        pem = read_file(path, limit=MAX_KEY_FILE_BYTES, what="private key file", allow_readable=allow_readable)
    except UnsafeFile as exc:
        hint = f" ({exc.hint})" if exc.hint else ""
        raise KeyLoadError(f"{exc.message}{hint}") from None
    return signer_from_private_key(pem, passphrase, source=source)
