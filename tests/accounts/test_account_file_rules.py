"""Rules of the accounts wing that no test pinned (issue 22, "Rules that no test pins"):

* no value written to TOOLS.md can start a new line, for every line break ``str.splitlines``
  honours (U+2028, U+2029 and U+0085 among them), since the reader splits lines that way;
* a key or credentials file named over MCP must be inside TOOLS.md's directory or the config
  directory by path, not by string prefix (``cfg-evil/`` is not inside ``cfg/``);
* an RSA key shorter than 2048 bits is refused (1536 bits included), wherever keys are loaded.
"""

from __future__ import annotations

import os
import sys
from functools import cache
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from binance_spot_mcp.accounts.key_paths import check_key_file, local_key_path
from binance_spot_mcp.accounts.reading import parse_accounts
from binance_spot_mcp.accounts.store import AccountStore
from binance_spot_mcp.accounts.writing import AccountEntry, with_account
from binance_spot_mcp.config import OFFICIAL_BASE_URLS, load_settings
from binance_spot_mcp.errors import AccountsFileError, ToolInputError
from binance_spot_mcp.redact import Redactor
from tests.e2e_support import random_token

KEY, SECRET = random_token(), random_token()


@cache
def line_breaks() -> tuple[str, ...]:
    """Every character ``str.splitlines`` ends a line at (computed, not listed)."""
    return tuple(chr(c) for c in range(sys.maxunicode + 1) if len(f"a{chr(c)}b".splitlines()) == 2)


def test_the_line_breaks_include_the_unicode_ones():
    assert {"\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"} == set(line_breaks())


def _entry(field: str, value: str) -> AccountEntry:
    values: dict[str, object] = {"name": "a", "environment": "testnet", "api_key": KEY}
    if field in ("private_key_file", "passphrase"):
        values["private_key_file"] = "keys/a.pem"
    else:
        values["secret"] = SECRET
    if field == "name":
        values["name"] = value
    elif field == "passphrase":
        values["passphrase"] = value
    elif field == "base_url":
        values["base_url"] = value
    else:
        values[field] = value
    return AccountEntry(**values)  # type: ignore[arg-type]


FIELDS = {
    "name": "a{}b",
    "secret": "sec{}ret-value-1234",
    "private_key_file": "keys/a{}.pem",
    "passphrase": "pass{}phrase",
    "description": "my account{}- Max Order Value: 1000000 USDT",
    "base_url": "http://127.0.0.1:9000/{}x",
}


@pytest.mark.parametrize("field", sorted(FIELDS), ids=sorted(FIELDS))
def test_no_line_break_of_splitlines_gets_into_a_written_value(field):
    for char in line_breaks():
        with pytest.raises(AccountsFileError):
            _entry(field, FIELDS[field].format(char))


def test_a_written_description_reads_back_as_one_line(tmp_path):
    """The writer's output, read by the reader: one account, its description whole, no extra field."""
    entry = _entry("description", "plain text \u00a0 with \u200b odd spaces")
    text = with_account("", entry)
    current = parse_accounts(text, where="TOOLS.md", base_dir=tmp_path, base_urls=OFFICIAL_BASE_URLS, redactor=Redactor())
    assert list(current.accounts) == ["a"] and not current.problems
    assert current.accounts["a"].description == entry.description


# ----------------------------------------------------------------------------- key paths


def _store(tmp_path: Path) -> tuple[AccountStore, Path, Path]:
    tools_dir, config_home = tmp_path / "cfg", tmp_path / "xdg"
    tools_dir.mkdir()
    tools = tools_dir / "TOOLS.md"
    tools.write_text("")
    os.chmod(tools, 0o600)
    settings = load_settings(tools_file=str(tools), environ={"XDG_CONFIG_HOME": str(config_home)})
    settings.config_dir.mkdir(parents=True)
    return AccountStore(settings, Redactor()), tools_dir, settings.config_dir


def test_a_sibling_directory_sharing_a_prefix_is_not_inside(tmp_path):
    store, tools_dir, config_dir = _store(tmp_path)
    for inside in (tools_dir / "creds.txt", config_dir / "creds.txt", config_dir / "sub" / "k.pem"):
        assert local_key_path(str(inside), "credentials_file", store) == inside
    for evil_dir in (Path(f"{tools_dir}-evil"), Path(f"{config_dir}-evil"), Path(f"{config_dir}evil")):
        evil_dir.mkdir(parents=True)
        target = evil_dir / "creds.txt"
        target.write_text(f"{KEY}\n{SECRET}\n")
        os.chmod(target, 0o600)
        for raw in (str(target), os.path.relpath(target, tools_dir)):  # absolute, and relative to TOOLS.md
            with pytest.raises(ToolInputError) as info:
                local_key_path(raw, "credentials_file", store)
            assert "must name a file in" in info.value.message, raw


# ----------------------------------------------------------------------------- RSA size


@cache
def _rsa_pem(bits: int) -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


@pytest.mark.parametrize("bits", [1024, 1536, 2047], ids=["1024", "1536", "2047"])
def test_an_rsa_key_under_2048_bits_is_refused_in_tools_md_and_over_mcp(tmp_path, bits):
    store, tools_dir, _ = _store(tmp_path)
    pem = tools_dir / "small.pem"
    pem.write_bytes(_rsa_pem(bits))
    os.chmod(pem, 0o600)
    store.path.write_text(f"## Binance Accounts\n### small\n- API Key: {KEY}\n- Private Key File: small.pem\n"
                          "- Environment: testnet\n")
    current = store.current()
    assert "small" not in current.accounts
    assert f"{bits}-bit RSA key; Binance needs 2048 bits or more" in current.broken["small"].problem
    with pytest.raises(ToolInputError, match=f"{bits}-bit RSA key"):
        check_key_file(str(pem), None, store)


def test_a_2048_bit_rsa_key_is_accepted(tmp_path):
    store, tools_dir, _ = _store(tmp_path)
    pem = tools_dir / "ok.pem"
    pem.write_bytes(_rsa_pem(2048))
    os.chmod(pem, 0o600)
    store.path.write_text(f"## Binance Accounts\n### ok\n- API Key: {KEY}\n- Private Key File: ok.pem\n- Environment: testnet\n")
    assert store.resolve("ok").signing == "RSA"
    assert check_key_file(str(pem), None, store) == pem
