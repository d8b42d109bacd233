"""TOOLS.md accounts as a user meets them: quoted values, missing or empty lines, bad names,
encrypted key files, guard-rail lines, the hints of a failed choice, where market data comes from,
and what an approval of a request is bound to."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from binance_spot_mcp.accounts.store import AccountStore, market_data_source
from binance_spot_mcp.approval.book import request_digest
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
    # the heading is not repeated (it might hold a pasted key); the block goes by its line
    problem = _problem(store, "(invalid name on line 2)")
    assert problem.startswith("TOOLS.md line 2: an account name is 1-64 letters, digits, '.', '_' or '-'")
    assert "my/account" not in problem and "my/account" not in " ".join(store.current().problems)


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


# ------------------------------------------------------------------------------ the section's lines


def test_fences_comments_and_rules_inside_the_section_are_skipped(tmp_path):
    body = _account(f"```\n- API Key: {KEY}\n<!-- a note -->\n- Secret: {SECRET}\n---\n- Environment: testnet\n```\n")
    current = _store(tmp_path, body).current()
    assert current.names() == ["a"] and current.problems == []


def test_text_before_the_first_account_is_reported_and_the_accounts_still_read(tmp_path):
    body = f"## Binance Accounts\nmy accounts:\n### a\n- API Key: {KEY}\n- Secret: {SECRET}\n- Environment: testnet\n"
    current = _store(tmp_path, body).current()
    assert current.names() == ["a"]
    assert current.problems == ["TOOLS.md line 2: text before the first '### name' heading is ignored"]


def test_a_stray_line_breaks_only_its_own_account(tmp_path):
    body = (
        f"## Binance Accounts\n### a\n- API Key: {KEY}\n- Secret: {SECRET}\n- Environment: testnet\nsomething else\n"
        f"### b\n- API Key: {KEY}b\n- Secret: {SECRET}\n- Environment: testnet\n"
        f"### a\n- API Key: {KEY}c\n- Secret: {SECRET}\n- Environment: testnet\n"
        f"### c\n- API Key: {KEY}d\n- Secret: {SECRET}\n- Environment: demo\n"
    )
    current = _store(tmp_path, body).current()
    assert current.names() == ["b", "c"]
    assert current.broken["a"].name == "a"
    assert current.broken["a"].problem == "TOOLS.md line 6: not a '- Field: value' line"


def test_unknown_and_repeated_fields_are_named_never_their_values(tmp_path):
    body = _account(f"- API Key: {KEY}\n- Secret: {SECRET}\n- Secret: {SECRET}\n- Colour: blue\n- Environment: testnet\n")
    store = _store(tmp_path, body)
    problems = store.current().problems
    unknown = next(p for p in problems if "unknown field" in p)
    assert unknown.startswith("TOOLS.md line 6: unknown field 'Colour' (known fields: API Key, Allowed Symbols, ")
    assert ", Private Key File, Private Key Passphrase, Secret, Secret Key, Testnet)" in unknown
    assert "blue" not in unknown
    assert _problem(store) == "TOOLS.md line 5: 'Secret' given twice for 'a'"


def test_several_problems_in_one_account_are_all_reported(tmp_path):
    store = _store(tmp_path, _account(f"- Secret: {SECRET}\n- Environment: moon\n"))
    assert _problem(store) == (
        "TOOLS.md line 2: account 'a' has no 'API Key' line; TOOLS.md line 4: Environment must be mainnet, testnet, demo or paper"
    )


def test_keys_and_secrets_are_redacted_as_keys_and_secrets_and_pasted_words_too(tmp_path):
    from binance_spot_mcp.redact import MASK, mask_api_key, mask_secret

    pasted, quoted = random_token(), random_token()
    body = _account(f"- API Key: {KEY}\n- Secret: {SECRET}\n- Environment: testnet\nnote:{pasted} \"{quoted}\"\n")
    store = _store(tmp_path, body)
    store.current()
    redact = store._redactor.redact  # noqa: SLF001
    assert redact(f"{KEY} {SECRET}") == f"{mask_api_key(KEY)} {mask_secret(SECRET)}"
    assert redact(pasted) == MASK and redact(quoted) == MASK


def test_an_empty_private_key_file_line_is_no_key_file(tmp_path):
    store = _store(tmp_path, _account(f"- API Key: {KEY}\n- Private Key File:\n- Environment: testnet\n"))
    assert _problem(store) == "TOOLS.md line 2: account 'a' has neither 'Secret' nor 'Private Key File'"


# ------------------------------------------------------------------------------ base URL, chat confirm


def test_a_trailing_slash_is_dropped_from_the_base_url(tmp_path):
    body = _account(f"- API Key: {KEY}\n- Secret: {SECRET}\n- Environment: testnet\n- Base URL: http://127.0.0.1:9000/\n")
    assert _store(tmp_path, body).resolve("a").base_url == "http://127.0.0.1:9000"


@pytest.mark.parametrize(
    ("label", "url"),
    [("testnet", "https://api.binance.com"), ("demo", "https://api.binance.com/"), ("mainnet", "https://testnet.binance.vision")],
)
def test_a_binance_host_of_another_environment_makes_the_account_unusable(tmp_path, label, url):
    body = _account(f"- API Key: {KEY}\n- Secret: {SECRET}\n- Environment: {label}\n- Base URL: {url}\n")
    problem = _problem(_store(tmp_path, body))
    assert problem.startswith("TOOLS.md line 6: Base URL refused: ") and f"labelled {label}" in problem


@pytest.mark.parametrize(("line", "opted_in"), [("", False), ("- Chat Confirm: yes\n", True), ("- Chat Confirm: TRUE\n", True),
                                                ("- Chat Confirm: no\n", False), ("- Chat Confirm: False\n", False)])
def test_chat_confirm_is_off_unless_the_account_opts_in(tmp_path, line, opted_in):
    body = _account(f"- API Key: {KEY}\n- Secret: {SECRET}\n- Environment: mainnet\n{line}")
    assert _store(tmp_path, body).resolve("a").chat_confirm is opted_in


def test_an_unclear_chat_confirm_makes_the_account_unusable(tmp_path):
    body = _account(f"- API Key: {KEY}\n- Secret: {SECRET}\n- Environment: mainnet\n- Chat Confirm: sure\n")
    assert _problem(_store(tmp_path, body)) == "TOOLS.md line 6: Chat Confirm must be true or false"


def test_what_show_reports_of_an_hmac_account(tmp_path):
    from binance_spot_mcp.redact import mask_secret

    body = _account(f"- API Key: {KEY}\n- Secret: {SECRET}\n- Environment: testnet\n- Max Order Value: 100 USDT\n")
    account = _store(tmp_path, body).resolve("a")
    assert account.source == "TOOLS.md line 2" and account.description == ""
    assert account.secret_display == mask_secret(SECRET) and account.key_file is None
    assert str(account.rules.max_order_value) and account.policy.order_caps  # the account's own cap is in force


def test_the_servers_guard_rails_apply_to_every_account(tmp_path):
    path = tmp_path / "TOOLS.md"
    path.write_text(_account(f"- API Key: {KEY}\n- Secret: {SECRET}\n- Environment: testnet\n"))
    environ = {
        "BINANCE_SPOT_MCP_DRY_RUN": "true",
        "BINANCE_DEMO_API_KEY": random_token(),
        "BINANCE_DEMO_SECRET_KEY": random_token(),
    }
    store = AccountStore(load_settings(tools_file=str(path), environ=environ), Redactor())
    accounts = store.current().accounts
    assert accounts["a"].policy.dry_run and accounts["env-demo"].policy.dry_run


# ------------------------------------------------------------------------------ the file and the environment


def test_accounts_from_environment_variables_sign_and_are_shown_masked(tmp_path):
    from binance_spot_mcp.redact import mask_secret

    key, secret, demo_key, demo_secret = random_token(), random_token(), random_token(), random_token()
    path = tmp_path / "TOOLS.md"
    path.write_text(_account(f"- API Key: {KEY}\n- Secret: {SECRET}\n- Environment: testnet\n", name="env-testnet"))
    environ = {
        "BINANCE_TESTNET_API_KEY": key, "BINANCE_TESTNET_SECRET_KEY": secret,
        "BINANCE_DEMO_API_KEY": demo_key, "BINANCE_DEMO_SECRET_KEY": demo_secret,
    }
    store = AccountStore(load_settings(tools_file=str(path), environ=environ), Redactor())
    accounts = store.current().accounts
    assert accounts["env-testnet"].api_key == KEY  # TOOLS.md's account of that name wins
    demo = accounts["env-demo"]
    assert (demo.name, demo.environment, demo.api_key, demo.signing) == ("env-demo", "demo", demo_key, "HMAC_SHA256")
    assert demo.base_url == "https://demo-api.binance.com" and demo.secret_display == mask_secret(demo_secret)
    assert demo.source and demo.description == f"from environment variables {demo.source}"
    assert "BINANCE_DEMO_API_KEY" in demo.source
    assert demo.signer_fingerprint and demo.signer_fingerprint != fingerprint_of(demo_key)
    other = AccountStore(load_settings(tools_file=str(path), environ={**environ, "BINANCE_DEMO_SECRET_KEY": random_token()}), Redactor())
    assert other.current().accounts["env-demo"].signer_fingerprint != demo.signer_fingerprint


def fingerprint_of(value: str) -> str:
    from binance_spot_mcp.accounts.reading import fingerprint

    return fingerprint(value)


def test_a_refused_or_missing_file_is_reported_as_such(tmp_path):
    path = tmp_path / "TOOLS.md"
    missing = AccountStore(load_settings(tools_file=str(path), environ={}), Redactor()).current()
    assert missing.problems == [f"accounts file {path} does not exist"] and missing.mode_problem is None
    path.write_text(_account(f"- API Key: {KEY}\n- Secret: {SECRET}\n- Environment: testnet\n"))
    path.chmod(0o640)
    refused = AccountStore(load_settings(tools_file=str(path), environ={}), Redactor()).current()
    assert refused.problems[0].startswith(f"accounts file {path} is readable by other users (mode 640); refused; no account from it is used (fix: chmod 600 ")
    path.chmod(0o600)
    path.write_bytes(b"## Binance Accounts\n\xff\n")
    assert AccountStore(load_settings(tools_file=str(path), environ={}), Redactor()).current().problems == [
        f"accounts file {path} is not UTF-8 text; not read"
    ]


def test_an_unchanged_file_is_read_and_its_problems_logged_once(tmp_path, caplog):
    store = _store(tmp_path, _account(f"- API Key: {KEY}\n- Secret: {SECRET}\n- Environment: moon\n"))
    with caplog.at_level("WARNING", logger="binance_spot_mcp.accounts.store"):
        first = store.current()
        assert store.current() is first
    assert [r.getMessage() for r in caplog.records] == first.problems == [
        "TOOLS.md line 5: Environment must be mainnet, testnet, demo or paper"
    ]


def test_an_account_without_an_environment_is_refused_for_that_alone(tmp_path):
    body = _account(f"- API Key: {KEY}\n- Secret: {SECRET}\n- Base URL: https://api.binance.com\n")
    assert _problem(_store(tmp_path, body)) == (
        "TOOLS.md line 2: account 'a' has no 'Environment: mainnet|testnet|demo|paper' line"
    )
