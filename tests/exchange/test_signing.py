"""Signing: the documented HMAC vectors, and RSA/Ed25519 signatures that verify."""

from __future__ import annotations

import base64
import os

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from binance_spot_mcp.exchange.signing import (
    ED25519,
    RSA,
    Ed25519Signer,
    HmacSigner,
    KeyLoadError,
    RsaSigner,
    signer_from_key_file,
    signer_from_private_key,
)

# Public test vectors from Binance's rest-api.md ("SIGNED Endpoint Examples", HMAC keys).
DOC_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
DOC_PAYLOAD = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
DOC_SIGNATURE = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
DOC_PAYLOAD_UNICODE = (
    "symbol=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96&side=BUY&type=LIMIT&timeInForce=GTC"
    "&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
)
DOC_SIGNATURE_UNICODE = "e1353ec6b14d888f1164ae9af8228a3dbd508bc82eb867db8ab6046442f33ef3"


def test_hmac_matches_binance_documented_vectors():
    signer = HmacSigner(DOC_SECRET)
    assert signer.sign(DOC_PAYLOAD.encode()) == DOC_SIGNATURE
    assert signer.sign(DOC_PAYLOAD_UNICODE.encode()) == DOC_SIGNATURE_UNICODE


def test_signers_never_show_key_material_in_repr():
    assert DOC_SECRET not in repr(HmacSigner(DOC_SECRET))
    key = ed25519.Ed25519PrivateKey.generate()
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    assert raw.hex() not in repr(Ed25519Signer(key))


def _pem(key, password: bytes | None = None) -> bytes:
    encryption = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def test_rsa_key_is_detected_and_signature_verifies():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    signer = signer_from_private_key(_pem(key), None, source="test key")
    assert isinstance(signer, RsaSigner) and signer.kind == RSA
    signature = base64.b64decode(signer.sign(b"symbol=BTCUSDT&timestamp=1"))
    key.public_key().verify(signature, b"symbol=BTCUSDT&timestamp=1", padding.PKCS1v15(), hashes.SHA256())


def test_ed25519_key_is_detected_and_signature_verifies():
    key = ed25519.Ed25519PrivateKey.generate()
    signer = signer_from_private_key(_pem(key), None, source="test key")
    assert signer.kind == ED25519
    key.public_key().verify(base64.b64decode(signer.sign(b"a=1")), b"a=1")


def test_encrypted_key_needs_the_right_passphrase(tmp_path):
    key = ed25519.Ed25519PrivateKey.generate()
    path = tmp_path / "k.pem"
    path.write_bytes(_pem(key, b"correct horse"))
    assert signer_from_key_file(path, "correct horse").kind == ED25519
    with pytest.raises(KeyLoadError, match="encrypted"):
        signer_from_key_file(path, None)
    with pytest.raises(KeyLoadError, match="passphrase is wrong"):
        signer_from_key_file(path, "wrong")


def test_unusable_keys_are_refused_with_the_file_named(tmp_path):
    with pytest.raises(KeyLoadError, match="does not exist"):
        signer_from_key_file(tmp_path / "missing.pem", None)
    junk = tmp_path / "junk.pem"
    junk.write_text("not a key")
    with pytest.raises(KeyLoadError, match="junk.pem is not a readable PEM"):
        signer_from_key_file(junk, None)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(KeyLoadError, match="RSA or Ed25519"):
        signer_from_private_key(_pem(ec_key), None, source="ec key")
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(KeyLoadError, match="2048"):
        signer_from_private_key(_pem(small), None, source="small key")


# ------------------------------------------------------------------ edges found by mutation testing


def _pem(key, password: bytes | None = None) -> bytes:
    encryption = (
        serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def test_each_key_problem_has_its_own_message(tmp_path):
    from cryptography.hazmat.primitives.asymmetric import ec

    from binance_spot_mcp.exchange.signing import KeyLoadError, signer_from_key_file, signer_from_private_key

    ed = ed25519.Ed25519PrivateKey.generate()
    cases = [
        (_pem(ed, b"pass-phrase"), None, "k is encrypted: add a 'Private Key Passphrase' line"),
        (_pem(ed), "pass-phrase", "k is not encrypted: remove the 'Private Key Passphrase' line"),
        (_pem(ed, b"pass-phrase"), "wrong-phrase", "k is not a readable PEM private key or the passphrase is wrong"),
        (b"-----BEGIN PRIVATE KEY-----\nbm9wZQ==\n-----END PRIVATE KEY-----\n", None, "k is not a readable PEM private key"),
        (_pem(ec.generate_private_key(ec.SECP256R1())), None, "k holds a ECPrivateKey; Binance takes RSA or Ed25519 keys"),
    ]
    for pem, passphrase, message in cases:
        with pytest.raises(KeyLoadError) as caught:
            signer_from_private_key(pem, passphrase, source="k")
        assert str(caught.value).startswith(message), message
        if message.endswith("private key"):
            assert str(caught.value) == message
    loose = tmp_path / "loose.pem"
    loose.write_bytes(_pem(ed))
    os.chmod(loose, 0o644)
    with pytest.raises(KeyLoadError) as caught:
        signer_from_key_file(loose, None)
    assert str(caught.value).startswith(f"private key file {loose} is readable by other users")
    assert str(caught.value).endswith(f"(chmod 600 {loose} (or start with --insecure-permissions to accept it))")
    with pytest.raises(KeyLoadError) as caught:
        signer_from_key_file(tmp_path / "none.pem", None)
    assert str(caught.value) == f"private key file {tmp_path / 'none.pem'} does not exist"


def test_signer_reprs_are_exact():
    from binance_spot_mcp.exchange.signing import Ed25519Signer, HmacSigner

    assert repr(HmacSigner("s" * 20)) == "HmacSigner(<secret hidden>)"
    assert repr(Ed25519Signer(ed25519.Ed25519PrivateKey.generate())) == "Ed25519Signer(<key hidden>)"
