"""TOOLS.md accounts as a user meets them: quoted values, missing or empty lines, bad names,
encrypted key files, guard-rail lines, the hints of a failed choice, where market data comes from,
and what an approval of a request is bound to."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from binance_spot_mcp.accounts import AccountStore, market_data_source
from binance_spot_mcp.approvals import request_digest
from binance_spot_mcp.config import load_settings
from binance_spot_mcp.errors import AccountError
from binance_spot_mcp.redact import Redactor
from tests.e2e_support import random_token

KEY, SECRET = random_token(), random_token()


def _store(tmp_path: Path, body: str) -> AccountStore:
    path = tmp_path / "TOOLS.md"
    path.write_text(body)
    return AccountStore(load_settings(tools_file=str(path), environ={}), Redactor())


def _account(lines: str, name: str = "a") -> str:
    return f"## Binance Accounts\n### {name}\n{lines}"


def _problem(store: AccountStore, name: str = "a") -> str:
    current = store.current()
    assert name not in current.accounts
    return current.broken[name].problem


def _write_key(path: Path, passphrase: bytes | None = None) -> None:
    encryption = (
        serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    )
    key = ed25519.Ed25519PrivateKey.generate()
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption))


# ------------------------------------------------------------------------------ values


@pytest.mark.parametrize("quote", ['"', "'", "`"])
def test_one_pair_of_matching_quotes_is_removed_from_a_value(tmp_path, quote):
    body = _account(
        f"- API Key: {quote}{KEY}{quote}\n- Secret: {quote} {SECRET} {quote}\n- Environment: {quote}testnet{quote}\n"
        f"- Description: {quote}{quote}\n"
    )
    account = _store(tmp_path, body).resolve("a")
    assert account.api_key == KEY and account.environment == "testnet"
    assert account.description == ""  # a pair of quotes with nothing inside is an empty value
    assert account.secret_display.endswith(SECRET[-5:]) and "*" in account.secret_display


@pytest.mark.parametrize(
    ("description", "shown"),
    [
        ('"Primary\'', '"Primary\''),  # quotes that do not match stay
        ('"Primary', '"Primary'),
        ('"', '"'),
        ("XPrimaryX", "XPrimaryX"),  # letters are not quotes
        ('""Primary""', '"Primary"'),  # only one pair goes
    ],
)
def test_values_without_one_matching_pair_of_quotes_are_kept(tmp_path, description, shown):
    body = _account(f"- API Key: {KEY}\n- Secret: {SECRET}\n- Environment: testnet\n- Description: {description}\n")
    assert _store(tmp_path, body).resolve("a").description == shown


def test_an_api_key_that_starts_and_ends_with_the_same_letter_is_kept_whole(tmp_path):
    key = f"X{KEY}X"
    body = _account(f"- API Key: {key}\n- Secret: {SECRET}\n- Environment: testnet\n")
    assert _store(tmp_path, body).resolve("a").api_key == key


@pytest.mark.parametrize("secret", ['""', "''", "``", ""])
def test_an_empty_secret_is_no_secret(tmp_path, secret):
    store = _store(tmp_path, _account(f"- API Key: {KEY}\n- Secret: {secret}\n- Environment: testnet\n"))
    assert _problem(store) == "TOOLS.md line 2: account 'a' has neither 'Secret' nor 'Private Key File'"


def test_an_account_without_an_api_key_line_is_unusable(tmp_path):
    store = _store(tmp_path, _account(f"- Secret: {SECRET}\n- Environment: testnet\n"))
    assert _problem(store) == "TOOLS.md line 2: account 'a' has no 'API Key' line"


def test_an_account_name_with_other_characters_is_unusable(tmp_path):
    body = _account(f"- API Key: {KEY}\n- Secret: {SECRET}\n- Environment: testnet\n", name="my/account")
    store = _store(tmp_path, body)
    assert _problem(store, "my/account") == (
        "TOOLS.md line 2: account name 'my/account' may use letters, digits, '.', '_' and '-' only"
    )


def test_a_contradicting_testnet_line_is_quoted_with_its_value(tmp_path):
    body = _account(f"- API Key: {KEY}\n- Secret: {SECRET}\n- Environment: mainnet\n- Testnet: yes\n")
    assert _problem(_store(tmp_path, body)) == "TOOLS.md line 6: Testnet: yes contradicts Environment: mainnet"


def test_a_bad_guard_rail_line_names_its_file_and_line(tmp_path):
    body = _account(f"- API Key: {KEY}\n- Secret: {SECRET}\n- Environment: testnet\n- Max Order Value: lots\n")
    problem = _problem(_store(tmp_path, body))
    assert problem.startswith("TOOLS.md line 6: Max Order Value: 'lots' is not an amount")


# ------------------------------------------------------------------------------ key files


def test_an_encrypted_key_file_is_used_with_its_passphrase(tmp_path):
    passphrase = "pass-" + random_token(20)
    _write_key(tmp_path / "enc.pem", passphrase.encode())
    lines = f"- API Key: {KEY}\n- Private Key File: enc.pem\n- Private Key Passphrase: {passphrase}\n- Environment: demo\n"
    store = _store(tmp_path, _account(lines))
    account = store.resolve("a")
    assert account.signing == "ED25519" and account.environment == "demo"
    assert account.key_file == tmp_path / "enc.pem"
    assert account.secret_display == f"private key file {tmp_path / 'enc.pem'}"
    assert passphrase not in repr(account) and passphrase not in store._redactor.redact(passphrase)  # noqa: SLF001


def test_an_encrypted_key_file_without_its_passphrase_says_so(tmp_path):
    _write_key(tmp_path / "enc.pem", b"pass-" + random_token(20).encode())
    store = _store(tmp_path, _account(f"- API Key: {KEY}\n- Private Key File: enc.pem\n- Environment: demo\n"))
    assert _problem(store) == (
        f"TOOLS.md line 4: private key file {tmp_path / 'enc.pem'} is encrypted: add a 'Private Key Passphrase' line"
    )


# ------------------------------------------------------------------------------ choosing


def _two(tmp_path: Path, first: str = "alpha", first_env: str = "moon") -> AccountStore:
    body = "## Binance Accounts\n"
    for name, env in ((first, first_env), ("beta", "demo")):
        body += f"\n### {name}\n- API Key: {KEY}{name}\n- Secret: {SECRET}\n- Environment: {env}\n"
    return _store(tmp_path, body)


def test_each_failed_choice_says_what_to_do_next(tmp_path):
    path = tmp_path / "TOOLS.md"
    store = _two(tmp_path)
    with pytest.raises(AccountError) as broken:
        store.resolve("alpha")
    assert broken.value.hint == f"Fix the account in {path} (it is re-read automatically)."
    with pytest.raises(AccountError) as unknown:
        store.resolve("gamma")
    assert unknown.value.message == "no account named 'gamma'. Accounts: beta (demo)."
    assert unknown.value.hint == "Call again with one of the listed account names."

    store = _two(tmp_path, first="main")
    with pytest.raises(AccountError) as main:
        store.resolve(None)
    assert main.value.message.startswith("the default account 'main' cannot be used: TOOLS.md line 6")
    assert main.value.hint == f"Fix it in {path}, or name another account."


def test_several_accounts_without_main_offer_their_names_as_choices(tmp_path):
    store = _two(tmp_path, first_env="testnet")
    with pytest.raises(AccountError) as info:
        store.resolve(None)
    assert info.value.choices == ("alpha", "beta")
    assert info.value.hint == "Ask the user which account to use, then call again with 'account'."


def test_no_account_at_all_says_how_to_add_one(tmp_path):
    path = tmp_path / "TOOLS.md"
    store = _store(tmp_path, "# notes\n")
    with pytest.raises(AccountError) as info:
        store.resolve(None)
    assert info.value.message == "no account is configured for signed endpoints"
    assert info.value.hint == (
        f"Add a '## Binance Accounts' section to {path} (see TOOLS.md.example) or set "
        "BINANCE_TESTNET_API_KEY and BINANCE_TESTNET_SECRET_KEY."
    )
    with pytest.raises(AccountError) as named:
        store.resolve("main")
    assert named.value.message == "no account named 'main'. No usable account is configured."


def test_market_data_names_the_account_it_follows(tmp_path):
    store = _two(tmp_path)  # alpha is broken: beta is the only usable account
    source = market_data_source(store, account=None, environment=None)
    assert (source.environment, source.base_url, source.account) == ("demo", "https://demo-api.binance.com", "beta")
    named = market_data_source(store, account="beta", environment=None)
    assert (named.environment, named.base_url, named.account) == ("demo", "https://demo-api.binance.com", "beta")
    empty = _store(tmp_path, "# notes\n")
    fallback = market_data_source(empty, account=None, environment=None)
    assert (fallback.environment, fallback.base_url, fallback.account) == ("mainnet", "https://api.binance.com", None)


# ------------------------------------------------------------------------------ approvals


def _digest(store: AccountStore, name: str = "a") -> str:
    account = store.current().accounts[name]
    return request_digest(tool="new_order", params=[("symbol", "BTCUSDT")], session=None, **account.binding())


def test_an_approval_is_bound_to_the_account_as_it_is_in_the_file(tmp_path):
    hmac_lines = f"- API Key: {KEY}\n- Secret: {SECRET}\n- Environment: testnet\n"
    store = _store(tmp_path, _account(hmac_lines))
    account = store.resolve("a")
    binding = account.binding()
    assert {k: binding[k] for k in ("account", "environment", "destination", "base_url", "signer_kind")} == {
        "account": "a",
        "environment": "testnet",
        "destination": "testnet",
        "base_url": "https://testnet.binance.vision",
        "signer_kind": "HMAC_SHA256",
    }
    for value in (binding["api_key_fingerprint"], binding["signer_fingerprint"]):
        assert value and KEY not in value and SECRET not in value
    before = _digest(store)
    assert _digest(_store(tmp_path, _account(hmac_lines))) == before  # the same file: the same binding
    changed = {
        "secret": hmac_lines.replace(SECRET, random_token()),
        "API key": hmac_lines.replace(KEY, random_token()),
        "base URL": hmac_lines + "- Base URL: http://127.0.0.1:9000\n",
        "name": hmac_lines,
    }
    for what, lines in changed.items():
        name = "b" if what == "name" else "a"
        assert _digest(_store(tmp_path, _account(lines, name)), name) != before, what


def test_swapping_the_key_file_voids_an_approval(tmp_path):
    lines = f"- API Key: {KEY}\n- Private Key File: ed.pem\n- Environment: testnet\n"
    _write_key(tmp_path / "ed.pem")
    before = _digest(_store(tmp_path, _account(lines)))
    assert _digest(_store(tmp_path, _account(lines))) == before
    _write_key(tmp_path / "ed.pem")
    assert _digest(_store(tmp_path, _account(lines))) != before
