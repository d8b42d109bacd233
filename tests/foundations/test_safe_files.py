"""Files holding secrets: no symlink, FIFO, device, foreign or loose file is read or written.

Each test names the attack it stops, as seen by the user: what the server reads, refuses or
leaves untouched."""

from __future__ import annotations

import os
import stat
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import pytest

import binance_spot_mcp.safe_files as safe_files
from binance_spot_mcp.accounts.store import AccountStore
from binance_spot_mcp.accounts.writing import read_credentials_file
from binance_spot_mcp.config import load_settings
from binance_spot_mcp.errors import AccountsFileError, JournalError
from binance_spot_mcp.exchange.signing import KeyLoadError, signer_from_key_file
from binance_spot_mcp.journal import Journal
from binance_spot_mcp.redact import Redactor
from binance_spot_mcp.safe_files import UnsafeFile, read_file, read_file_async
from tests.e2e_support import make_keys, random_token

KEY, SECRET = random_token(), random_token()


def _tools(tmp_path: Path, body: str = "") -> Path:
    path = tmp_path / "TOOLS.md"
    path.write_text(body or f"## Binance Accounts\n### one\n- API Key: {KEY}\n- Secret: {SECRET}\n- Environment: testnet\n")
    return path


# ------------------------------------------------------------------------------ reading


def test_a_fifo_is_refused_at_once_instead_of_blocking(tmp_path):
    fifo = tmp_path / "keys.txt"
    os.mkfifo(fifo)
    done = threading.Event()
    caught: list[BaseException] = []

    def read() -> None:
        try:
            read_file(fifo, limit=100, what="credentials file")
        except UnsafeFile as exc:
            caught.append(exc)
        done.set()

    threading.Thread(target=read, daemon=True).start()
    assert done.wait(10), "opening a FIFO with no writer blocked"
    assert caught and caught[0].reason == safe_files.NOT_REGULAR


def test_a_device_is_refused_without_reading_it():
    with pytest.raises(UnsafeFile) as caught:
        read_file(Path("/dev/zero"), limit=100, what="private key file", private=False)
    assert caught.value.reason == safe_files.NOT_REGULAR


def test_a_symlink_is_refused_even_to_a_good_file(tmp_path):
    real = tmp_path / "real.txt"
    real.write_text(f"{KEY}\n{SECRET}\n")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    assert read_credentials_file(real) == (KEY, SECRET)
    with pytest.raises(AccountsFileError, match="symbolic link"):
        read_credentials_file(link)


def test_reads_stop_at_the_limit_even_when_the_size_lies(tmp_path, monkeypatch):
    path = tmp_path / "big"
    path.write_bytes(b"x" * 101)
    with pytest.raises(UnsafeFile, match="larger than 100 bytes"):
        read_file(path, limit=100, what="key")
    assert read_file(path, limit=101, what="key") == b"x" * 101
    # A file that grows after fstat (st_size said small) is still cut off at the limit.
    real_fstat = os.fstat

    class Small:
        def __init__(self, info: os.stat_result) -> None:
            self._info = info

        def __getattr__(self, name: str):
            return 1 if name == "st_size" else getattr(self._info, name)

    monkeypatch.setattr(os, "fstat", lambda fd: Small(real_fstat(fd)))
    with pytest.raises(UnsafeFile, match="larger than 100 bytes"):
        read_file(path, limit=100, what="key")


@pytest.mark.parametrize(
    ("mode", "allow_readable", "reason"),
    [
        (0o600, False, None),
        (0o400, False, None),
        (0o640, False, safe_files.READABLE),
        (0o604, False, safe_files.READABLE),
        (0o610, False, safe_files.READABLE),
        (0o640, True, None),
        (0o604, True, None),
        (0o620, True, safe_files.WRITABLE),
        (0o602, True, safe_files.WRITABLE),
    ],
)
def test_ssh_like_permission_rules(tmp_path, mode, allow_readable, reason):
    path = tmp_path / "secret"
    path.write_text("data")
    os.chmod(path, mode)
    if reason is None:
        assert read_file(path, limit=10, what="key", allow_readable=allow_readable) == b"data"
    else:
        with pytest.raises(UnsafeFile) as caught:
            read_file(path, limit=10, what="key", allow_readable=allow_readable)
        assert caught.value.reason == reason and "data" not in str(caught.value)


def test_another_users_file_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "secret"
    path.write_text("data")
    me = os.geteuid()
    monkeypatch.setattr(safe_files, "current_uid", lambda: me + 1)
    with pytest.raises(UnsafeFile) as caught:
        read_file(path, limit=10, what="key", private=False)
    assert caught.value.reason == safe_files.NOT_OWNED


def test_a_directory_others_can_write_makes_its_files_untrusted(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    path = shared / "secret"
    path.write_text("data")
    os.chmod(shared, 0o757)
    with pytest.raises(UnsafeFile) as caught:
        read_file(path, limit=10, what="key")
    assert caught.value.reason == safe_files.DIRECTORY
    os.chmod(shared, 0o700)
    assert read_file(path, limit=10, what="key") == b"data"


@pytest.mark.anyio
async def test_async_reads_run_in_a_worker_thread(tmp_path, monkeypatch):
    path = tmp_path / "secret"
    path.write_text("data")
    seen: list[int] = []
    real = safe_files.read_file

    def spy(*args, **kwargs):
        seen.append(threading.get_ident())
        return real(*args, **kwargs)

    monkeypatch.setattr(safe_files, "read_file", spy)
    assert await read_file_async(path, limit=10, what="key") == b"data"
    assert seen and seen[0] != threading.get_ident()


# ------------------------------------------------------------------------ TOOLS.md and key files


def test_a_tools_md_symlink_or_fifo_gives_no_accounts(tmp_path):
    real = _tools(tmp_path)
    link = tmp_path / "LINK.md"
    link.symlink_to(real)
    current = AccountStore(load_settings(tools_file=str(link), environ={}), Redactor()).current()
    assert current.names() == [] and any("symbolic link" in p for p in current.problems)
    fifo = tmp_path / "FIFO.md"
    os.mkfifo(fifo)
    current = AccountStore(load_settings(tools_file=str(fifo), environ={}), Redactor()).current()
    assert current.names() == [] and any("not a regular file" in p for p in current.problems)


@pytest.mark.parametrize("kind", ["rsa", "ed"])
def test_a_group_readable_key_file_is_refused_unless_insecure(tmp_path, kind):
    keys = make_keys()
    pem = tmp_path / "key.pem"
    pem.write_bytes(keys.rsa_pem if kind == "rsa" else keys.ed_pem)
    os.chmod(pem, 0o644)
    with pytest.raises(KeyLoadError, match="readable by other users"):
        signer_from_key_file(pem, None)
    assert signer_from_key_file(pem, None, allow_readable=True).kind in ("RSA", "ED25519")
    os.chmod(pem, 0o646)
    with pytest.raises(KeyLoadError, match="writable by other users"):
        signer_from_key_file(pem, None, allow_readable=True)


def test_the_key_file_size_limit(tmp_path):
    keys = make_keys()
    pem = tmp_path / "key.pem"
    pem.write_bytes(keys.ed_pem + b"\n" * (64 * 1024))
    with pytest.raises(KeyLoadError, match="larger than"):
        signer_from_key_file(pem, None)
    pem.write_bytes(keys.ed_pem + b"\n" * (64 * 1024 - len(keys.ed_pem)))
    assert signer_from_key_file(pem, None).kind == "ED25519"


def test_an_account_with_a_loose_key_file_is_unusable_and_says_why(tmp_path):
    keys = make_keys()
    (tmp_path / "ed.pem").write_bytes(keys.ed_pem)
    os.chmod(tmp_path / "ed.pem", 0o644)
    _tools(tmp_path, f"## Binance Accounts\n### ed\n- API Key: {KEY}\n- Private Key File: ed.pem\n- Environment: demo\n")
    current = AccountStore(load_settings(tools_file=str(tmp_path / "TOOLS.md"), environ={}), Redactor()).current()
    assert current.names() == [] and "readable by other users" in current.broken["ed"].problem
    lenient = load_settings(tools_file=str(tmp_path / "TOOLS.md"), environ={}, insecure_permissions=True)
    assert AccountStore(lenient, Redactor()).current().names() == ["ed"]


# ------------------------------------------------------------------------------- the journal


def test_the_journal_never_follows_a_planted_symlink(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    path = tmp_path / "journal.jsonl"
    path.symlink_to(victim)
    journal = Journal(path)
    with pytest.raises(JournalError, match="symbolic link"):
        journal.record_intent(tool="t", account="a", environment="testnet", method="POST", path="/x", params={})
    with pytest.raises(JournalError, match="symbolic link"):
        journal.latest()
    with pytest.raises(JournalError, match="symbolic link"):  # the 24-hour caps read it too
        journal.since(datetime.now(UTC) - timedelta(days=1))
    assert victim.read_text() == "precious\n"


def test_the_journal_never_appends_to_another_users_file(tmp_path, monkeypatch):
    path = tmp_path / "journal.jsonl"
    path.write_text("")
    os.chmod(path, 0o666)
    me = os.geteuid()
    monkeypatch.setattr(safe_files, "current_uid", lambda: me + 1)
    with pytest.raises(JournalError, match="another user"):
        Journal(path).record_intent(tool="t", account="a", environment="testnet", method="POST", path="/x", params={})
    assert path.read_text() == "" and stat.S_IMODE(path.stat().st_mode) == 0o666


def test_the_journal_refuses_a_fifo_without_blocking(tmp_path):
    path = tmp_path / "journal.jsonl"
    os.mkfifo(path)

    async def main() -> None:
        with anyio.fail_after(10):
            with pytest.raises(JournalError, match="not a regular file"):
                await Journal(path).intent(tool="t", account="a", environment="testnet", method="POST", path="/x", params={})

    anyio.run(main)


# ------------------------------------------------------------------ edges found by mutation testing


def _refusal(path: Path, **kwargs) -> UnsafeFile:
    kwargs.setdefault("limit", 1000)
    kwargs.setdefault("what", "key file")
    with pytest.raises(UnsafeFile) as caught:
        read_file(path, **kwargs)
    return caught.value


def test_each_refusal_names_the_file_the_rule_and_the_fix(tmp_path):
    good = tmp_path / "good"
    good.write_text("x")
    link = tmp_path / "link"
    link.symlink_to(good)
    loose = tmp_path / "loose"
    loose.write_text("x")
    os.chmod(loose, 0o644)
    writable = tmp_path / "writable"
    writable.write_text("x")
    os.chmod(writable, 0o606)
    cases = {
        "missing": (tmp_path / "nothing", safe_files.MISSING, "does not exist", ""),
        "symlink": (link, safe_files.SYMLINK, "symbolic link", ""),
        "not a directory": (good / "below", safe_files.UNREADABLE, "cannot open key file", ""),
        "directory": (tmp_path, safe_files.NOT_REGULAR, "not a regular file", ""),
        "readable": (loose, safe_files.READABLE, "readable by other users (mode 644)",
                     f"chmod 600 {loose} (or start with --insecure-permissions to accept it)"),
        "writable": (writable, safe_files.WRITABLE, "writable by other users (mode 606)", f"chmod 600 {writable}"),
    }
    for label, (path, reason, words, hint) in cases.items():
        error = _refusal(path)
        assert error.reason == reason, label
        assert error.message.startswith("key file ") or error.message.startswith("cannot open key file "), label
        assert str(path) in error.message and words in error.message and str(error) == error.message, label
        assert error.hint == hint, label


def test_readable_files_are_refused_by_default_everywhere(tmp_path):
    loose = tmp_path / "loose"
    loose.write_text("x")
    os.chmod(loose, 0o640)
    assert _refusal(loose).reason == safe_files.READABLE
    fd = os.open(loose, os.O_RDONLY)
    try:
        with pytest.raises(UnsafeFile):
            safe_files.check_descriptor(fd, loose, "key file", private=True)
        assert safe_files.check_descriptor(fd, loose, "key file", private=False).st_size == 1
    finally:
        os.close(fd)


@pytest.mark.anyio
async def test_async_reads_apply_the_same_rules(tmp_path):
    loose = tmp_path / "loose"
    loose.write_text("x")
    os.chmod(loose, 0o640)
    with pytest.raises(UnsafeFile, match="credentials file .* readable by other users"):
        await read_file_async(loose, limit=10, what="credentials file")
    assert await read_file_async(loose, limit=10, what="credentials file", allow_readable=True) == b"x"
    assert await read_file_async(loose, limit=10, what="journal", private=False) == b"x"


def test_large_files_are_read_whole_and_growing_ones_stopped_across_chunks(tmp_path, monkeypatch):
    path = tmp_path / "big"
    content = bytes(range(256)) * 600  # 153,600 bytes: three reads of 64 KiB
    path.write_bytes(content)
    assert read_file(path, limit=200_000, what="TOOLS.md") == content
    assert _refusal(path, limit=10).reason == safe_files.TOO_LARGE  # the size check before reading
    real_fstat = os.fstat

    class Small:
        def __init__(self, info: os.stat_result) -> None:
            self._info = info

        def __getattr__(self, name: str):
            return 1 if name == "st_size" else getattr(self._info, name)

    monkeypatch.setattr(os, "fstat", lambda fd: Small(real_fstat(fd)))
    with pytest.raises(UnsafeFile) as caught:
        read_file(path, limit=100_000, what="TOOLS.md")
    assert caught.value.reason == safe_files.TOO_LARGE
    assert caught.value.message == f"TOOLS.md {path} is larger than 100000 bytes; refused"


def test_a_directory_owned_by_root_is_trusted_one_owned_by_another_user_is_not(tmp_path, monkeypatch):
    me = os.geteuid()
    monkeypatch.setattr(safe_files, "current_uid", lambda: me + 4242)
    safe_files.check_directory(Path("/"), "TOOLS.md")  # root's: fine (like /home)
    real_stat = os.stat

    class Foreign:
        def __init__(self, info: os.stat_result) -> None:
            self._info = info

        def __getattr__(self, name: str):
            return 4243 + me if name == "st_uid" else getattr(self._info, name)

    monkeypatch.setattr(os, "stat", lambda p, *a, **k: Foreign(real_stat(p, *a, **k)))
    with pytest.raises(UnsafeFile, match="belongs to another user") as caught:
        safe_files.check_directory(tmp_path, "TOOLS.md")
    assert caught.value.reason == safe_files.DIRECTORY and "(holding TOOLS.md)" in caught.value.message


def test_directory_refusals_say_why_and_how_to_fix(tmp_path):
    with pytest.raises(UnsafeFile) as caught:
        safe_files.check_directory(tmp_path / "nothing", "TOOLS.md")
    assert caught.value.reason == safe_files.DIRECTORY and "cannot be examined" in caught.value.message
    afile = tmp_path / "afile"
    afile.write_text("")
    with pytest.raises(UnsafeFile, match="is not a directory") as caught:
        safe_files.check_directory(afile, "TOOLS.md")
    assert caught.value.reason == safe_files.DIRECTORY
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o770)
    with pytest.raises(UnsafeFile) as caught:
        safe_files.check_directory(shared, "TOOLS.md")
    assert caught.value.hint == f"chmod go-w {shared}" and "(mode 770)" in caught.value.message


def test_write_targets_are_refused_with_reasons(tmp_path, monkeypatch):
    real = tmp_path / "real"
    real.write_text("x")
    link = tmp_path / "link"
    link.symlink_to(real)
    for path, reason in ((link, safe_files.SYMLINK), (tmp_path, safe_files.NOT_REGULAR)):
        with pytest.raises(UnsafeFile) as caught:
            safe_files.write_private_atomically(path, b"new", "TOOLS.md")
        assert caught.value.reason == reason and "TOOLS.md" in caught.value.message
    with pytest.raises(UnsafeFile) as caught:
        safe_files.check_write_target(real / "below", "TOOLS.md")
    assert caught.value.reason == safe_files.UNREADABLE and "cannot examine TOOLS.md" in caught.value.message
    me = os.geteuid()
    monkeypatch.setattr(safe_files, "current_uid", lambda: me + 1)
    with pytest.raises(UnsafeFile) as caught:
        safe_files.write_private_atomically(real, b"new", "TOOLS.md")
    assert caught.value.reason == safe_files.NOT_OWNED and real.read_text() == "x"


def test_the_temporary_file_is_a_hidden_sibling_and_is_removed_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "TOOLS.md"
    seen: list[str] = []
    real_replace = os.replace

    def spy(source, destination):
        seen.append(source)
        return real_replace(source, destination)

    monkeypatch.setattr(os, "replace", spy)
    safe_files.write_private_atomically(target, b"data", "TOOLS.md")
    temp = Path(seen[0])
    assert temp.parent == tmp_path and temp.name.startswith(".TOOLS.md.") and temp.name.endswith(".tmp")
    assert target.read_bytes() == b"data" and stat.S_IMODE(target.stat().st_mode) == 0o600

    def fail(source, destination):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError):
        safe_files.write_private_atomically(target, b"other", "TOOLS.md")
    assert sorted(os.listdir(tmp_path)) == ["TOOLS.md"] and target.read_bytes() == b"data"


def test_open_private_names_what_it_refuses(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("")
    lock = tmp_path / ".lock"
    lock.symlink_to(victim)
    with pytest.raises(UnsafeFile) as caught:
        safe_files.open_private(lock, "lock file", flags=os.O_RDWR)
    assert caught.value.reason == safe_files.SYMLINK and f"lock file {lock}" in caught.value.message
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(UnsafeFile) as caught:
        safe_files.open_private(fifo, "journal", flags=os.O_RDWR)
    assert caught.value.reason == safe_files.NOT_REGULAR and caught.value.message.startswith(f"journal {fifo} ")
    fd = safe_files.open_private(tmp_path / "new", "journal", flags=os.O_RDWR)
    os.close(fd)
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o600


def test_fsync_directory_is_best_effort(tmp_path):
    safe_files.fsync_directory(tmp_path)
    safe_files.fsync_directory(tmp_path / "missing")  # no error: some file systems refuse


def test_is_inside_resolves_symlinks(tmp_path):
    inside, outside = tmp_path / "in", tmp_path / "out"
    inside.mkdir()
    outside.mkdir()
    (inside / "link").symlink_to(outside / "secret")
    assert safe_files.is_inside(inside / "file", [inside])
    assert safe_files.is_inside(inside, [inside])
    assert not safe_files.is_inside(inside / "link", [inside])
    assert not safe_files.is_inside(inside / ".." / "out" / "x", [inside])
    assert safe_files.is_inside(outside / "x", [inside, outside])


def test_a_read_error_is_reported_with_the_file(tmp_path, monkeypatch):
    path = tmp_path / "key"
    path.write_text("x")

    def broken(fd, size):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "read", broken)
    error = _refusal(path)
    assert error.reason == safe_files.UNREADABLE
    assert error.message == f"cannot read key file {path}: Input/output error"


def test_refusals_inside_read_file_name_the_file(tmp_path, monkeypatch):
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "key").write_text("x")
    os.chmod(shared, 0o777)
    assert "(holding key file)" in _refusal(shared / "key").message
    mine = tmp_path / "mine"
    mine.write_text("x")
    me = os.geteuid()
    monkeypatch.setattr(safe_files, "current_uid", lambda: me + 1)
    error = _refusal(mine)
    assert error.reason == safe_files.NOT_OWNED and error.hint == f"chown $(id -u) {mine}"
