"""Writing TOOLS.md: only the accounts section changes, atomically, with safe modes, under a lock."""

from __future__ import annotations

import hmac
import multiprocessing
import os
import stat
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from binance_spot_mcp.accounts.reading import is_section_heading, parse_accounts
from binance_spot_mcp.accounts.writing import (
    AccountEntry,
    account_names,
    add_account,
    read_credentials_file,
    remove_account,
)
from binance_spot_mcp.config import OFFICIAL_BASE_URLS
from binance_spot_mcp.errors import AccountsFileError
from binance_spot_mcp.redact import Redactor

KEY = "NEWKEYabcdefghijklmnopqrstuvwxyz0123456789AB"
SECRET = "newSecretZ9y8x7w6v5u4t3s2r1q0p9o8n7m6l5k4QWERT"
OLD_KEY = "OLDKEYabcdefghijklmnopqrstuvwxyz0123456789CD"
OLD_SECRET = "oldSecretZ9y8x7w6v5u4t3s2r1q0p9o8n7m6l5k4ASDFG"


def _entry(name: str = "fresh", **overrides: object) -> AccountEntry:
    fields: dict[str, object] = {"environment": "testnet", "api_key": KEY, "secret": SECRET}
    fields.update(overrides)
    return AccountEntry(name, **fields)  # type: ignore[arg-type]


def _parse(path: Path):
    return parse_accounts(
        path.read_bytes().decode("utf-8"),
        where=path.name,
        base_dir=path.parent,
        base_urls=OFFICIAL_BASE_URLS,
        redactor=Redactor(),
    )


def _old_block(name: str, newline: str) -> str:
    lines = [f"### {name}", f"- API Key: {OLD_KEY}", f"- Secret: {OLD_SECRET}", "- Environment: demo"]
    return "".join(line + newline for line in lines)


# ----------------------------------------------------------------- random surroundings

_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
_endings = st.sampled_from(["\n", "\r\n", "\r"])
_free_text = st.text(st.characters(exclude_categories=("Cs",), exclude_characters=_BREAKS), max_size=25)
_markdown = st.sampled_from(
    [
        "",
        "   ",
        "# Title",
        "## Notes",
        "##\tMore notes",
        "### not-an-account",
        "- API Key: not-in-the-section",
        "trailing spaces   ",
        "```",
        "#",
        "##",
        "\t- item",
        "Binance Accounts",
        "### Binance Accounts",
    ]
)
_line = st.one_of(_free_text, _markdown).filter(lambda s: not is_section_heading(s))
_lines_with_endings = st.lists(st.tuples(_line, _endings), max_size=6).map(lambda ls: "".join(a + b for a, b in ls))
_section_headings = st.sampled_from(["## Binance Accounts", "##  binance accounts  ", "## BINANCE ACCOUNTS"])
_after_headings = st.sampled_from(["## Other", "# Title", "##\tMore", "#  x", "## Binance Accounts Archive"])


@st.composite
def _documents(draw):
    """(before, section, after) of a TOOLS.md whose accounts section is ``section``."""
    newline = draw(_endings)
    before = draw(_lines_with_endings)
    section = draw(_section_headings) + newline
    for name in draw(st.lists(st.sampled_from(["main", "dev", "old-one"]), unique=True, max_size=3)):
        section += newline * draw(st.integers(0, 2)) + _old_block(name, newline)
    section += draw(st.sampled_from(["", newline, "<!-- note -->" + newline, "   " + newline + newline]))
    if draw(st.booleans()):
        after = draw(_after_headings) + draw(_endings) + draw(_lines_with_endings)
        if draw(st.booleans()):
            after += draw(_line)  # no final newline
    else:
        after = ""
        if draw(st.booleans()) and section.endswith(newline):
            section = section[: -len(newline)]  # the file ends without a newline
    return before, section, after


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_documents())
def test_add_keeps_every_byte_outside_the_section(document):
    before, section, after = document
    original = (before + section + after).encode("utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "TOOLS.md"
        path.write_bytes(original)
        old_names = account_names(path)
        add_account(path, _entry())
        new = path.read_bytes()
        assert new.startswith(before.encode("utf-8"))
        assert new.endswith(after.encode("utf-8"))
        assert len(new) > len(original)
        heading_line = section.splitlines(keepends=True)[0]
        assert new[len(before.encode()) :].startswith(heading_line.encode())
        parsed = _parse(path)
        assert parsed.accounts["fresh"].api_key == KEY
        assert parsed.accounts["fresh"].environment == "testnet"
        assert list(parsed.accounts) == [*old_names, "fresh"]

        assert remove_account(path, "fresh") is True
        again = path.read_bytes()
        assert again.startswith(before.encode("utf-8")) and again.endswith(after.encode("utf-8"))
        assert list(_parse(path).accounts) == old_names
        if old_names:
            assert remove_account(path, old_names[0]) is True
            rest = path.read_bytes()
            assert rest.startswith(before.encode("utf-8")) and rest.endswith(after.encode("utf-8"))
            assert list(_parse(path).accounts) == old_names[1:]


@settings(max_examples=100, deadline=None)
@given(_lines_with_endings, st.one_of(st.just(""), _line))
def test_missing_section_is_appended_after_the_untouched_text(text, unterminated):
    original = (text + unterminated).encode("utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "TOOLS.md"
        path.write_bytes(original)
        add_account(path, _entry())
        new = path.read_bytes()
        assert new.startswith(original)
        assert b"## Binance Accounts" in new[len(original) :]
        assert list(_parse(path).accounts) == ["fresh"]


# ----------------------------------------------------------------- concrete behaviour


def test_new_file_is_created_0600_and_parses(tmp_path):
    path = tmp_path / "TOOLS.md"
    add_account(path, _entry("main", description='a "quoted" description', base_url="http://127.0.0.1:9000/"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / ".TOOLS.md.lock").stat().st_mode) == 0o600
    account = _parse(path).accounts["main"]
    assert (account.api_key, account.base_url) == (KEY, "http://127.0.0.1:9000")
    assert account.description == 'a "quoted" description'
    assert account.signer.sign(b"x") == hmac.new(SECRET.encode(), b"x", "sha256").hexdigest()
    assert "Environment: testnet" in path.read_text() and "Testnet:" not in path.read_text()
    assert sorted(os.listdir(tmp_path)) == [".TOOLS.md.lock", "TOOLS.md"]


@pytest.mark.parametrize("old_mode", [0o644, 0o640, 0o400, 0o600])
def test_every_write_leaves_the_file_0600_whatever_its_old_mode_and_the_umask(tmp_path, old_mode):
    path = tmp_path / "TOOLS.md"
    path.write_text("# mine\n")
    os.chmod(path, old_mode)
    previous = os.umask(0)  # a careless umask: the mode must come from fchmod, not from umask
    try:
        add_account(path, _entry())
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        add_account(tmp_path / "NEW.md", _entry())
        assert stat.S_IMODE((tmp_path / "NEW.md").stat().st_mode) == 0o600
        assert stat.S_IMODE((tmp_path / ".NEW.md.lock").stat().st_mode) == 0o600
    finally:
        os.umask(previous)


def test_the_temporary_file_is_fsynced_before_the_rename(tmp_path, monkeypatch):
    path = tmp_path / "TOOLS.md"
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b))[1])
    add_account(path, _entry())
    assert "replace" in events and "fsync" in events[: events.index("replace")]


def test_the_write_size_limit_holds(tmp_path, monkeypatch):
    import binance_spot_mcp.accounts.writing as accounts_file

    path = tmp_path / "TOOLS.md"
    text = "# notes\n" + "x" * 500 + "\n"
    path.write_text(text)
    monkeypatch.setattr(accounts_file, "MAX_TOOLS_FILE_BYTES", len(text.encode()) + 50)
    with pytest.raises(AccountsFileError, match="would grow beyond"):
        add_account(path, _entry())
    assert path.read_text() == text


def test_values_that_look_quoted_round_trip(tmp_path):
    path = tmp_path / "TOOLS.md"
    add_account(path, _entry(description="`ticks`"))
    add_account(path, _entry("pem", secret=None, private_key_file="'odd name'.pem", passphrase='"pass phrase"'))
    assert _parse(path).accounts["fresh"].description == "`ticks`"
    broken = _parse(path).broken["pem"].problem  # the key file does not exist; the name came back intact
    assert "'odd name'.pem" in broken


def test_duplicate_is_refused_and_replace_works_in_place(tmp_path):
    path = tmp_path / "TOOLS.md"
    section = "## Binance Accounts\n\n" + _old_block("a", "\n") + "\n" + _old_block("b", "\n")
    text = "# top\n\n" + section + "\n## After\ntail"
    path.write_text(text)
    with pytest.raises(AccountsFileError, match="already exists"):
        add_account(path, _entry("a"))
    assert path.read_text() == text
    add_account(path, _entry("a", environment="mainnet"), replace=True)
    new = path.read_text()
    assert new.startswith("# top\n\n## Binance Accounts\n\n### a\n") and new.endswith("\n## After\ntail")
    parsed = _parse(path)
    assert list(parsed.accounts) == ["a", "b"]
    assert (parsed.accounts["a"].api_key, parsed.accounts["a"].environment) == (KEY, "mainnet")
    assert parsed.accounts["b"].api_key == OLD_KEY
    assert OLD_SECRET in new  # b's secret is still there


def test_remove_leaves_the_rest_byte_identical(tmp_path):
    path = tmp_path / "TOOLS.md"
    head = "# top  \r\nnotes\r\n\r\n"
    after = "## After\r\nno newline at the end  "
    text = head + "## Binance Accounts\r\n\r\n" + _old_block("a", "\r\n") + "\r\n" + _old_block("b", "\r\n") + after
    path.write_bytes(text.encode())
    assert remove_account(path, "missing") is False
    assert path.read_bytes() == text.encode()
    assert remove_account(path, "a") is True
    assert path.read_bytes() == (head + "## Binance Accounts\r\n\r\n" + _old_block("b", "\r\n") + after).encode()
    assert remove_account(path, "b") is True
    assert path.read_bytes() == (head + "## Binance Accounts\r\n\r\n" + after).encode()
    assert remove_account(tmp_path / "nothing.md", "a") is False
    assert not (tmp_path / "nothing.md").exists()


def test_a_crash_before_the_rename_leaves_the_file_untouched(tmp_path, monkeypatch):
    path = tmp_path / "TOOLS.md"
    text = "# mine\n\n## Binance Accounts\n\n" + _old_block("a", "\n")
    path.write_text(text)
    os.chmod(path, 0o600)

    def crash(src, dst):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(AccountsFileError, match="not changed") as caught:
        add_account(path, _entry())
    assert SECRET not in str(caught.value) and KEY not in str(caught.value)
    assert path.read_text() == text
    assert sorted(os.listdir(tmp_path)) == [".TOOLS.md.lock", "TOOLS.md"]


def test_a_symlinked_tools_file_is_refused_and_its_target_untouched(tmp_path):
    real = tmp_path / "bashrc"
    real.write_text("# shell start-up\n")
    link = tmp_path / "TOOLS.md"
    link.symlink_to(real)
    with pytest.raises(AccountsFileError, match="symbolic link"):
        add_account(link, _entry())
    with pytest.raises(AccountsFileError, match="symbolic link"):
        remove_account(link, "fresh")
    assert link.is_symlink() and real.read_text() == "# shell start-up\n"


def test_a_planted_lock_symlink_is_not_followed(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    os.chmod(victim, 0o644)
    (tmp_path / ".TOOLS.md.lock").symlink_to(victim)
    dangling = tmp_path / "sub"
    dangling.mkdir()
    (dangling / ".TOOLS.md.lock").symlink_to(dangling / "created-by-us")
    with pytest.raises(AccountsFileError, match="cannot lock"):
        add_account(tmp_path / "TOOLS.md", _entry())
    with pytest.raises(AccountsFileError, match="cannot lock"):
        add_account(dangling / "TOOLS.md", _entry())
    assert victim.read_text() == "precious\n" and stat.S_IMODE(victim.stat().st_mode) == 0o644
    assert not (dangling / "created-by-us").exists()
    assert not (tmp_path / "TOOLS.md").exists()


@pytest.mark.parametrize("kind", ["fifo", "directory", "device"])
def test_a_fifo_directory_or_device_is_never_taken_for_tools_md(tmp_path, kind):
    path = tmp_path / "TOOLS.md"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    else:
        path = Path("/dev/null")
    with pytest.raises(AccountsFileError, match="not a regular file"):
        add_account(path, _entry())
    assert path.exists() and not path.is_file()


def test_a_tools_md_other_users_can_write_is_not_written(tmp_path):
    path = tmp_path / "TOOLS.md"
    path.write_text("# mine\n")
    os.chmod(path, 0o666)
    with pytest.raises(AccountsFileError, match="writable by other users"):
        add_account(path, _entry())
    assert path.read_text() == "# mine\n"


def test_a_directory_other_users_can_write_is_refused(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    with pytest.raises(AccountsFileError, match="writable by other users"):
        add_account(shared / "TOOLS.md", _entry())
    assert not (shared / "TOOLS.md").exists()
    os.chmod(shared, 0o1777)  # sticky, like /tmp: others cannot replace our files there
    add_account(shared / "TOOLS.md", _entry())
    assert list(_parse(shared / "TOOLS.md").accounts) == ["fresh"]


def test_another_users_tools_md_is_not_written(tmp_path, monkeypatch):
    import binance_spot_mcp.safe_files as safe_files

    path = tmp_path / "TOOLS.md"
    path.write_text("# theirs\n")
    me = os.geteuid()
    monkeypatch.setattr(safe_files, "current_uid", lambda: me + 1)
    with pytest.raises(AccountsFileError, match="another user"):
        add_account(path, _entry())
    assert path.read_text() == "# theirs\n"


def test_non_utf8_file_is_refused_untouched(tmp_path):
    path = tmp_path / "TOOLS.md"
    path.write_bytes(b"\xff\xfe bad")
    with pytest.raises(AccountsFileError, match="not UTF-8"):
        add_account(path, _entry())
    assert path.read_bytes() == b"\xff\xfe bad"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"name": "bad name"}, "account name"),
        ({"environment": "prod"}, "environment"),
        ({"api_key": "short"}, "API key"),
        ({"secret": None}, "exactly one"),
        ({"private_key_file": "k.pem"}, "exactly one"),
        ({"secret": SECRET + "\nEnvironment: mainnet"}, "line break"),
        ({"secret": " " + SECRET}, "whitespace"),
        ({"description": "two\nlines"}, "one line"),
        ({"base_url": "https://evil.example.com"}, "base URL refused"),
        ({"passphrase": "pass-phrase"}, "passphrase only goes"),
    ],
)
def test_entry_validation_never_echoes_secrets(overrides, message):
    fields = {"name": "x", "environment": "testnet", "api_key": KEY, "secret": SECRET}
    fields.update(overrides)
    with pytest.raises(AccountsFileError, match=message) as caught:
        AccountEntry(**fields)  # type: ignore[arg-type]
    assert SECRET not in str(caught.value) and KEY not in str(caught.value)


def test_entry_repr_is_masked():
    text = repr(_entry(secret=SECRET)) + str(_entry())
    assert KEY not in text and SECRET not in text and "NEWKE...89AB" in text


def test_read_credentials_file(tmp_path):
    path = tmp_path / "creds"
    path.write_text(f"  {KEY}  \r\n{SECRET}\n\n\n")
    assert read_credentials_file(path) == (KEY, SECRET)
    bad_files = (
        f"{KEY}\n",
        f"{KEY}\n{SECRET}\nextra\n",
        f"{KEY}\n\n{SECRET}\n",
        f"k\n{SECRET}\n",
        f"{KEY}\n{SECRET} x\n",
    )
    for bad in bad_files:
        path.write_text(bad)
        with pytest.raises(AccountsFileError) as caught:
            read_credentials_file(path)
        assert SECRET not in str(caught.value) and KEY not in str(caught.value)
    with pytest.raises(AccountsFileError, match="does not exist"):
        read_credentials_file(tmp_path / "missing")


# ----------------------------------------------------------------- two writers at once


def _add_many(path: str, prefix: str, count: int, start) -> None:
    start.wait(30)
    for i in range(count):
        add_account(Path(path), _entry(f"{prefix}-{i}"))


def test_two_processes_adding_at_once_both_land(tmp_path):
    path = tmp_path / "TOOLS.md"
    path.write_text("# shared file\n\n## Binance Accounts\n\n## After\nkept\n")
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    workers = [context.Process(target=_add_many, args=(str(path), p, 20, start)) for p in ("left", "right")]
    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    parsed = _parse(path)
    expected = {f"{p}-{i}" for p in ("left", "right") for i in range(20)}
    assert set(parsed.accounts) == expected and not parsed.problems
    text = path.read_text()
    assert text.startswith("# shared file\n\n## Binance Accounts\n") and text.endswith("## After\nkept\n")
    assert [n for n in os.listdir(tmp_path) if n.endswith(".tmp")] == []
