"""TOOLS.md edits byte for byte: where a new block goes, which line endings it gets, what a
replace keeps (the guard rails), what remove reports, and what the credentials-file reader refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from binance_spot_mcp.accounts.writing import (
    AccountEntry,
    account_names,
    add_account,
    read_credentials_file,
    remove_account,
    with_account,
)
from binance_spot_mcp.errors import AccountsFileError
from tests.e2e_support import random_token

KEY, SECRET = random_token(), random_token()
BLOCK = ["### new", f"- API Key: {KEY}", f"- Secret: {SECRET}", "- Environment: testnet"]


def _entry(name: str = "new", **overrides: object) -> AccountEntry:
    fields: dict[str, object] = {"environment": "testnet", "api_key": KEY, "secret": SECRET}
    fields.update(overrides)
    return AccountEntry(name, **fields)  # type: ignore[arg-type]


def _old(name: str = "old", *extra: str, newline: str = "\n") -> str:
    return newline.join([f"### {name}", f"- API Key: {KEY[::-1]}", f"- Secret: {SECRET[::-1]}", "- Environment: demo", *extra])


def _block(newline: str = "\n") -> str:
    return newline.join(BLOCK) + newline


@pytest.mark.parametrize(
    ("text", "expected_prefix"),
    [
        ("", ""),
        ("notes", "notes\n\n"),
        ("notes\n", "notes\n\n"),
        ("notes\n\n", "notes\n\n"),
        ("notes\r\n", "notes\r\n\r\n"),
    ],
)
def test_a_missing_section_is_appended_after_one_blank_line(text, expected_prefix):
    newline = "\r\n" if "\r\n" in text else "\n"
    assert with_account(text, _entry()) == expected_prefix + f"## Binance Accounts{newline}{newline}" + _block(newline)


def test_a_new_block_follows_the_last_account_after_one_blank_line():
    text = "## Binance Accounts\n\n" + _old() + "\n\n\n## Other\ntext\n"
    assert with_account(text, _entry()) == "## Binance Accounts\n\n" + _old() + "\n\n" + _block() + "\n\n## Other\ntext\n"


def test_a_section_that_ends_the_file_without_a_newline_gets_one_before_the_new_block():
    text = "## Binance Accounts\n" + _old()
    assert with_account(text, _entry()) == text + "\n\n" + _block()


def test_an_empty_section_gets_the_block_right_after_the_heading():
    assert with_account("## Binance Accounts\n\n\n", _entry()) == "## Binance Accounts\n\n" + _block() + "\n\n"
    assert with_account("## Binance Accounts\n\n\n## Next\n", _entry()) == (
        "## Binance Accounts\n\n" + _block() + "\n\n## Next\n"
    )


def test_the_new_block_takes_the_line_ending_of_the_section_heading():
    text = "# notes\n## Binance Accounts\r\n\r\n" + _old(newline="\r\n") + "\r\n"
    assert with_account(text, _entry()) == text + "\r\n" + _block("\r\n")


def test_a_trailing_slash_is_not_written_in_the_base_url():
    lines = _entry(base_url="http://127.0.0.1:9000/").lines()
    assert "- Base URL: http://127.0.0.1:9000" in lines


def test_the_entry_repr_says_how_it_signs_without_the_secret():
    assert "signing='secret'" in repr(_entry())
    keyed = _entry(secret=None, private_key_file="keys/a.pem", passphrase="pass-" + random_token(12))
    assert "signing='private key file'" in repr(keyed) and keyed.passphrase not in repr(keyed)


# ------------------------------------------------------------------------------ replace and remove


def test_a_duplicate_name_says_how_to_replace_it():
    with pytest.raises(AccountsFileError) as info:
        with_account("## Binance Accounts\n" + _old("new") + "\n", _entry())
    assert info.value.hint == (
        "Choose another name, or replace it (add_account with replace: true; on the command line, accounts add --replace)."
    )


def test_replacing_an_account_keeps_its_guard_rails_and_no_one_elses():
    first = _old("first", "- Dry Run: true")
    text = "## Binance Accounts\n" + first + "\n\n" + _old("new", "- Max Order Value: 100 USDT", "- Description: x") + "\n"
    text = text.replace("### new\n", "### new\n- allowed symbols: BTCUSDT\n")
    assert with_account(text, _entry(), replace=True) == (
        "## Binance Accounts\n" + first + "\n\n" + _block() + "- allowed symbols: BTCUSDT\n- Max Order Value: 100 USDT\n"
    )


def test_replacing_the_last_block_of_a_file_without_a_final_newline_keeps_it_that_way():
    text = "## Binance Accounts\n" + _old("new", "- Dry Run: true")
    assert with_account(text, _entry(), replace=True) == "## Binance Accounts\n" + _block() + "- Dry Run: true"
    text = "## Binance Accounts\n" + _old("new")
    assert with_account(text, _entry(), replace=True) == "## Binance Accounts\n" + _block().rstrip("\n")


def test_removing_from_a_file_without_the_section_changes_nothing(tmp_path):
    path = tmp_path / "TOOLS.md"
    path.write_text("# notes\n")
    assert remove_account(path, "new") is False and path.read_text() == "# notes\n"
    assert account_names(path) == []


def test_a_refused_tools_md_says_how_to_fix_it(tmp_path):
    path = tmp_path / "TOOLS.md"
    path.write_text("# notes\n")
    path.chmod(0o622)
    with pytest.raises(AccountsFileError) as info:
        add_account(path, _entry())
    assert info.value.message.startswith(f"accounts file {path} ") and "writable by other users" in info.value.message
    assert info.value.hint and "chmod" in info.value.hint


# ------------------------------------------------------------------------------ credentials files


def _credentials(tmp_path: Path, data: bytes, mode: int = 0o600) -> Path:
    path = tmp_path / "binance.key"
    path.write_bytes(data)
    path.chmod(mode)
    return path


def test_a_credentials_file_with_a_bom_and_blank_lines_around_is_read(tmp_path):
    path = _credentials(tmp_path, f"\ufeff\n\n  {KEY}  \n{SECRET}\n\n".encode())
    assert read_credentials_file(path) == (KEY, SECRET)


@pytest.mark.parametrize("data", [f"{KEY}\n{SECRET[:9]}\x01{SECRET[9:]}\n".encode(), f"{KEY}\n".encode(), b"\xff\xfe\n"], ids=["control-character", "key-only", "not-utf8"])
def test_other_files_are_not_key_files_and_nothing_of_them_is_shown(tmp_path, data):
    path = _credentials(tmp_path, data)
    with pytest.raises(AccountsFileError) as info:
        read_credentials_file(path)
    assert info.value.message == f"credentials file {path} is not a Binance key file (two lines: the API key, then the secret)"


def test_a_credentials_file_others_can_read_is_refused_unless_allowed(tmp_path):
    path = _credentials(tmp_path, f"{KEY}\n{SECRET}\n".encode(), mode=0o640)
    with pytest.raises(AccountsFileError) as info:
        read_credentials_file(path)
    assert info.value.message.startswith(f"credentials file {path} is readable by other users")
    assert read_credentials_file(path, allow_readable=True) == (KEY, SECRET)
    with pytest.raises(AccountsFileError, match=r"^credentials file .* does not exist"):
        read_credentials_file(tmp_path / "absent.key")


def test_replacing_a_block_in_the_middle_keeps_the_blank_lines_around_it():
    text = "## Binance Accounts\n" + _old("first") + "\n\n" + _old("new") + "\n\n" + _old("last") + "\n"
    assert with_account(text, _entry(), replace=True) == (
        "## Binance Accounts\n" + _old("first") + "\n\n" + _block() + "\n" + _old("last") + "\n"
    )
    bare = "## Binance Accounts\n### new\n\n\n" + _old("last") + "\n"  # a heading and nothing else yet
    assert with_account(bare, _entry(), replace=True) == "## Binance Accounts\n" + _block() + "\n\n" + _old("last") + "\n"


def test_a_file_of_exactly_the_size_limit_is_written(tmp_path, monkeypatch):
    import binance_spot_mcp.accounts.writing as accounts_file

    path = tmp_path / "TOOLS.md"
    path.write_text("# notes\n")
    size = len(with_account("# notes\n", _entry()).encode())
    monkeypatch.setattr(accounts_file, "MAX_TOOLS_FILE_BYTES", size)
    add_account(path, _entry())
    assert len(path.read_bytes()) == size


def test_a_planted_backup_symlink_is_refused_and_nothing_is_written(tmp_path):
    path = tmp_path / "TOOLS.md"
    path.write_text("# notes\n")
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("untouched\n")
    (tmp_path / "TOOLS.md.bak").symlink_to(elsewhere)
    with pytest.raises(AccountsFileError) as info:
        add_account(path, _entry(), backup=True)
    assert info.value.message.startswith(f"accounts file {tmp_path / 'TOOLS.md.bak'} ")
    assert path.read_text() == "# notes\n" and elsewhere.read_text() == "untouched\n"


def test_empty_or_multi_line_values_are_refused_and_secrets_not_quoted():
    with pytest.raises(AccountsFileError, match=r"^account 'new': the secret is empty$"):
        _entry(secret="")
    with pytest.raises(AccountsFileError) as secret:
        _entry(secret=SECRET + "\nmore")
    assert secret.value.message == "account 'new': the secret contains a line break or control character"
    with pytest.raises(AccountsFileError) as url:
        _entry(base_url="http://127.0.0.1:9000\n")
    assert url.value.message == "account 'new': the base URL contains a line break or control character; it must be one line"


def test_a_new_file_holds_only_the_section_and_no_backup_is_made_unasked(tmp_path):
    path = tmp_path / "TOOLS.md"
    assert add_account(path, _entry()) is None
    assert path.read_text() == "## Binance Accounts\n\n" + _block()
    assert add_account(path, _entry("second")) is None
    assert not (tmp_path / "TOOLS.md.bak").exists()
    before = path.read_text()
    kept = add_account(path, _entry("third"), backup=True)
    assert kept == tmp_path / "TOOLS.md.bak" and kept.read_text() == before
    assert (kept.stat().st_mode & 0o777) == 0o600


def test_a_tools_md_over_the_size_limit_is_refused_unread(tmp_path, monkeypatch):
    import binance_spot_mcp.accounts.writing as accounts_file

    path = tmp_path / "TOOLS.md"
    path.write_text("# notes\n" + "x" * 200 + "\n")
    monkeypatch.setattr(accounts_file, "MAX_TOOLS_FILE_BYTES", 100)
    with pytest.raises(AccountsFileError, match=rf"^accounts file {path} is larger than 100 bytes"):
        add_account(path, _entry())


def test_a_missing_directory_is_named(tmp_path):
    with pytest.raises(AccountsFileError) as info:
        add_account(tmp_path / "nowhere" / "TOOLS.md", _entry())
    assert info.value.message == f"the directory of {tmp_path / 'nowhere' / 'TOOLS.md'} does not exist"


def test_each_refused_entry_says_what_to_do():
    with pytest.raises(AccountsFileError) as name:
        _entry("bad name")
    assert name.value.hint == "Choose another name, e.g. 'main' or 'testnet-hmac'."
    with pytest.raises(AccountsFileError) as key:
        _entry(api_key="short")
    assert key.value.hint == "Copy the API key again from Binance's API management page."
    with pytest.raises(AccountsFileError, match=r"^account 'new': the description must be one line of text$"):
        _entry(description="a\x7fb")
    assert _entry(description="caf\u00e9 \u0080ok").description  # other characters are text
    keyed = {"secret": None, "private_key_file": "keys/a.pem"}
    with pytest.raises(AccountsFileError) as path:
        _entry(**{**keyed, "private_key_file": "keys/a.pem\nx"})
    assert path.value.message == "account 'new': the private key file contains a line break or control character; it must be one line"
    with pytest.raises(AccountsFileError) as passphrase:
        _entry(**keyed, passphrase="pass\nphrase")
    assert passphrase.value.message == "account 'new': the passphrase contains a line break or control character"


def test_a_base_url_of_another_environment_is_refused_and_a_trailing_slash_accepted():
    assert _entry(base_url="http://127.0.0.1:9000/").base_url == "http://127.0.0.1:9000/"
    with pytest.raises(AccountsFileError) as info:
        _entry(base_url="https://api.binance.com/")
    assert info.value.message.startswith("account 'new': base URL refused: api.binance.com is a Binance mainnet host")


def test_a_replace_never_takes_the_guard_rails_of_the_block_above():
    text = "## Binance Accounts\n" + _old("first", "- Dry Run: true") + "\n" + _old("new") + "\n"
    assert with_account(text, _entry(), replace=True) == "## Binance Accounts\n" + _old("first", "- Dry Run: true") + "\n" + _block()


def test_removing_an_account_writes_no_backup(tmp_path):
    path = tmp_path / "TOOLS.md"
    add_account(path, _entry())
    assert remove_account(path, "new") is True
    assert path.read_text() == "## Binance Accounts\n\n" and not (tmp_path / "TOOLS.md.bak").exists()


# ------------------------------------------------------------------------------ refusals name the file


def test_a_symlinked_tools_md_is_named_as_the_accounts_file_and_left_alone(tmp_path):
    real = tmp_path / "real.md"
    real.write_text("# notes\n")
    path = tmp_path / "TOOLS.md"
    path.symlink_to(real)
    with pytest.raises(AccountsFileError) as info:
        add_account(path, _entry())
    assert info.value.message == f"accounts file {path} is a symbolic link; not modified (point at the real file)"
    assert real.read_text() == "# notes\n"


def test_a_directory_others_can_write_is_named_as_holding_the_accounts_file(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o770)
    try:
        with pytest.raises(AccountsFileError) as info:
            add_account(shared / "TOOLS.md", _entry())
    finally:
        shared.chmod(0o700)
    assert info.value.message == f"the directory {shared} (holding accounts file) is writable by other users (mode 770); refused"
    assert info.value.hint == f"chmod go-w {shared}"
    assert not (shared / "TOOLS.md").exists()


@pytest.mark.parametrize("name", ["", "-lead", "has space", "x" * 65, "bad/name"])
def test_an_account_name_outside_the_rule_is_refused_with_the_rule(name):
    with pytest.raises(AccountsFileError) as info:
        _entry(name)
    assert info.value.message == "an account name is 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
