"""Writing TOOLS.md safely: add, replace and remove accounts (invariant 5).

Only the ``## Binance Accounts`` section is touched; every other byte of the file (line endings,
trailing whitespace, a missing final newline, other sections) stays exactly as it was. The
section is found the way ``accounts`` finds it: the first ``## `` line titled "Binance Accounts"
(any case), ending at the next ``#``/``##`` heading. Lines are split with ``str.splitlines``,
the same rule the reader uses, so writer and reader always agree on where a line ends.

A write is a locked read-modify-write: an exclusive ``flock`` on a sidecar ``.TOOLS.md.lock``
serialises writers (two processes adding accounts at once both end up in the file), the new
text goes to a temporary file in the same directory which is fsync'd and then ``os.replace``d
over the original, so a crash leaves either the old file or the new one, never a torn one.
A new file is created with mode 0600; an existing file keeps its mode.

Messages name accounts, fields and files, never a key, secret or passphrase.
"""

from __future__ import annotations

import fcntl
import os
import re
import stat
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from binance_spot_mcp.accounts import (
    ACCOUNT_NAME_RE,
    API_KEY_RE,
    MAX_TOOLS_FILE_BYTES,
    account_heading,
    clean_value,
    ends_section,
    is_section_heading,
)
from binance_spot_mcp.config import ENVIRONMENTS, base_url_problem
from binance_spot_mcp.errors import AccountsFileError
from binance_spot_mcp.policy import POLICY_FIELDS
from binance_spot_mcp.redact import mask_api_key

SECTION_HEADING = "## Binance Accounts"
NEW_FILE_MODE = 0o600
MAX_CREDENTIALS_FILE_BYTES = 64 * 1024
# Characters str.splitlines() treats as line breaks beyond the ASCII control range.
_EXTRA_LINE_BREAKS = frozenset("\x85\u2028\u2029")


def _bad_characters(value: str) -> bool:
    """True when ``value`` holds a line break or another control character."""
    return any(ord(c) < 32 or ord(c) == 127 or c in _EXTRA_LINE_BREAKS for c in value)


@dataclass(frozen=True)
class AccountEntry:
    """One account as it is written to TOOLS.md. Validated on creation; ``repr`` hides secrets."""

    name: str
    environment: str
    api_key: str = field(repr=False)
    secret: str | None = field(default=None, repr=False)
    private_key_file: str | None = None
    passphrase: str | None = field(default=None, repr=False)
    description: str = ""
    base_url: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not ACCOUNT_NAME_RE.match(self.name):
            raise AccountsFileError(
                "an account name is 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
                hint="Choose another name, e.g. 'main' or 'testnet-hmac'.",
            )
        if self.environment not in ENVIRONMENTS:
            raise AccountsFileError(
                f"account '{self.name}': environment must be mainnet, testnet or demo, not '{self.environment}'"
            )
        if not isinstance(self.api_key, str) or not API_KEY_RE.match(self.api_key):
            raise AccountsFileError(
                f"account '{self.name}': the API key must be 8-256 printable characters without spaces",
                hint="Copy the API key again from Binance's API management page.",
            )
        has_secret = self.secret is not None
        has_key_file = self.private_key_file is not None
        if has_secret == has_key_file:
            raise AccountsFileError(
                f"account '{self.name}': give exactly one of a secret (HMAC) or a private key file (RSA/Ed25519)"
            )
        if has_secret:
            self._check_value("secret", self.secret, secret=True)
        if has_key_file:
            self._check_value("private key file", self.private_key_file, secret=False)
        if self.passphrase is not None:
            if not has_key_file:
                raise AccountsFileError(f"account '{self.name}': a passphrase only goes with a private key file")
            self._check_value("passphrase", self.passphrase, secret=True)
        if _bad_characters(self.description):
            raise AccountsFileError(f"account '{self.name}': the description must be one line of text")
        if self.base_url is not None:
            self._check_value("base URL", self.base_url, secret=False)
            problem = base_url_problem(self.base_url.rstrip("/"))
            if problem:
                raise AccountsFileError(f"account '{self.name}': base URL refused: {problem}")

    def _check_value(self, label: str, value: str | None, *, secret: bool) -> None:
        if not isinstance(value, str) or not value:
            raise AccountsFileError(f"account '{self.name}': the {label} is empty")
        if _bad_characters(value):
            raise AccountsFileError(
                f"account '{self.name}': the {label} contains a line break or control character"
                + ("" if secret else "; it must be one line")
            )
        if value != value.strip():
            raise AccountsFileError(f"account '{self.name}': the {label} starts or ends with whitespace")

    def __repr__(self) -> str:
        signing = "secret" if self.secret is not None else "private key file"
        return (
            f"AccountEntry(name={self.name!r}, environment={self.environment!r}, "
            f"api_key={mask_api_key(self.api_key)!r}, signing={signing!r})"
        )

    def lines(self) -> list[str]:
        """The block as text lines without line endings, in the format ``accounts`` parses."""
        out = [f"### {self.name}", f"- API Key: {_field_value(self.api_key)}"]
        if self.secret is not None:
            out.append(f"- Secret: {_field_value(self.secret)}")
        if self.private_key_file is not None:
            out.append(f"- Private Key File: {_field_value(self.private_key_file)}")
        if self.passphrase is not None:
            out.append(f"- Private Key Passphrase: {_field_value(self.passphrase)}")
        out.append(f"- Environment: {self.environment}")
        if self.base_url is not None:
            out.append(f"- Base URL: {_field_value(self.base_url.rstrip('/'))}")
        description = self.description.strip()
        if description:
            out.append(f"- Description: {_field_value(description)}")
        return out


def _field_value(value: str) -> str:
    """``value`` as written after ``Field: `` so that the reader gets exactly ``value`` back."""
    if clean_value(value) == value:
        return value
    # The reader strips one pair of matching quotes or backticks; add a pair it can strip.
    return f"`{value}`"


# --------------------------------------------------------------------------- the section


def _content(line: str) -> str:
    """A line (from splitlines(keepends=True)) without its line ending."""
    return (line.splitlines() or [""])[0]


def _ending(line: str) -> str:
    return line[len(_content(line)) :]


@dataclass
class _Section:
    start: int  # index of the heading line
    end: int  # index after the last line of the section
    blocks: list[tuple[str, int, int]]  # (name, first line, end of block excluding trailing blank lines)


def _find_section(lines: list[str]) -> _Section | None:
    start = next((i for i, line in enumerate(lines) if is_section_heading(_content(line))), None)
    if start is None:
        return None
    end = start + 1
    while end < len(lines) and not ends_section(_content(lines[end])):
        end += 1
    heads = [(i, name) for i in range(start + 1, end) if (name := account_heading(_content(lines[i]))) is not None]
    blocks = []
    for k, (first, name) in enumerate(heads):
        stop = heads[k + 1][0] if k + 1 < len(heads) else end
        while stop > first + 1 and not _content(lines[stop - 1]).strip():
            stop -= 1
        blocks.append((name, first, stop))
    return _Section(start, end, blocks)


def _is_policy_line(line: str) -> bool:
    match = re.match(r"^\s*[-*]\s+([A-Za-z][A-Za-z ]*?)\s*:", line)
    return bool(match) and match.group(1).lower() in POLICY_FIELDS


def _newline_for(lines: list[str], near: int | None) -> str:
    """The line ending to use: the one at ``near``, else the file's first, else LF."""
    if near is not None and 0 <= near < len(lines) and _ending(lines[near]):
        return _ending(lines[near])
    for line in lines:
        if _ending(line):
            return _ending(line)
    return "\n"


def _terminated(line: str, newline: str) -> str:
    return line if _ending(line) else line + newline


def with_account(text: str, entry: AccountEntry, *, replace: bool = False) -> str:
    """``text`` with ``entry`` added to (or, with ``replace``, replaced in) its accounts section."""
    lines = text.splitlines(keepends=True)
    section = _find_section(lines)
    if section is None:
        newline = _newline_for(lines, None)
        prefix = text
        if prefix:
            if not _ending(lines[-1]):
                prefix += newline
            if _content(lines[-1]).strip() or not _ending(lines[-1]):
                prefix += newline
        return prefix + newline.join([SECTION_HEADING, "", *entry.lines()]) + newline

    newline = _newline_for(lines, section.start)
    block = [line + newline for line in entry.lines()]
    existing = [b for b in section.blocks if b[0] == entry.name]
    if existing:
        if not replace:
            raise AccountsFileError(
                f"an account named '{entry.name}' already exists in the accounts file",
                hint="Choose another name, or replace it (accounts add --replace).",
            )
        _, first, stop = existing[0]
        # The operator's guard rails (Max Order Value, Dry Run, ...) survive a replace: a new key
        # must not be a way to drop the limits (for example by add_account with replace=true).
        kept = [_content(line) + newline for line in lines[first + 1 : stop] if _is_policy_line(_content(line))]
        block = block[:1] + [line for line in block[1:] if not _is_policy_line(_content(line))] + kept
        last_old = lines[stop - 1]
        if not _ending(last_old):  # the old block ended the file without a newline: keep it that way
            block[-1] = _content(block[-1])
        return "".join(lines[:first] + block + lines[stop:])

    # Insert after the last non-blank line of the section, separated by one blank line.
    at = section.end
    while at > section.start + 1 and not _content(lines[at - 1]).strip():
        at -= 1
    before = lines[:at]
    before[-1] = _terminated(before[-1], newline)
    inserted = [newline, *block]
    after = lines[at:]
    if after and _content(after[0]).strip():  # a heading (or text) follows at once: keep a blank line
        inserted.append(newline)
    return "".join(before + inserted + after)


def without_account(text: str, name: str) -> tuple[str, bool]:
    """``text`` with every block of account ``name`` removed, and whether there was one."""
    lines = text.splitlines(keepends=True)
    section = _find_section(lines)
    if section is None:
        return text, False
    doomed: set[int] = set()
    for block_name, first, stop in section.blocks:
        if block_name != name:
            continue
        # the block and the blank lines after it, up to the next block or the end of the section
        while stop < section.end and not _content(lines[stop]).strip():
            stop += 1
        doomed.update(range(first, stop))
    if not doomed:
        return text, False
    return "".join(line for i, line in enumerate(lines) if i not in doomed), True


# --------------------------------------------------------------------------- the file


def _lock_path(path: Path) -> Path:
    return path.parent / f".{path.name}.lock"


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive flock on the sidecar lock file of ``path`` (created 0600)."""
    try:
        fd = os.open(_lock_path(path), os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), NEW_FILE_MODE)
    except OSError as exc:
        raise AccountsFileError(f"cannot lock {path}: {exc.strerror or type(exc).__name__}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as exc:
            raise AccountsFileError(f"cannot lock {path}: {exc.strerror or type(exc).__name__}") from None
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _target(path: Path) -> Path:
    """The file a write lands on: symlinks are followed, so the link itself stays."""
    return Path(os.path.realpath(Path(path).expanduser()))


def _read(path: Path) -> tuple[str, int | None]:
    """The file's text and mode (None when it does not exist yet)."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return "", None
    except OSError as exc:
        raise AccountsFileError(f"cannot read {path}: {exc.strerror or type(exc).__name__}") from None
    if not stat.S_ISREG(info.st_mode):
        raise AccountsFileError(f"{path} is not a regular file; not modified")
    if info.st_size > MAX_TOOLS_FILE_BYTES:
        raise AccountsFileError(f"{path} is larger than {MAX_TOOLS_FILE_BYTES} bytes; not modified")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AccountsFileError(f"cannot read {path}: {exc.strerror or type(exc).__name__}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise AccountsFileError(f"{path} is not UTF-8 text; not modified") from None
    return text, stat.S_IMODE(info.st_mode)


def _write_atomically(path: Path, text: str, mode: int) -> None:
    data = text.encode("utf-8")
    if len(data) > MAX_TOOLS_FILE_BYTES:
        raise AccountsFileError(f"{path} would grow beyond {MAX_TOOLS_FILE_BYTES} bytes; not modified")
    tmp_name: str | None = None
    try:
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # mode 0600
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
        tmp_name = None
        _fsync_directory(path.parent)
    except OSError as exc:
        raise AccountsFileError(
            f"cannot write {path}: {exc.strerror or type(exc).__name__}; the file was not changed"
        ) from None
    finally:
        if tmp_name is not None:
            try:
                os.unlink(tmp_name)
            except OSError:
                pass


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _update(path: Path, change: Callable[[str], str]) -> None:
    target = _target(path)
    if not target.parent.is_dir():
        raise AccountsFileError(f"the directory of {target} does not exist")
    with _locked(target):
        text, mode = _read(target)
        new_text = change(text)
        if new_text == text and mode is not None:
            return
        _write_atomically(target, new_text, NEW_FILE_MODE if mode is None else mode)


def add_account(path: Path, entry: AccountEntry, *, replace: bool = False) -> None:
    """Add ``entry`` to the accounts section of ``path`` (created 0600 if missing).

    An account of the same name is an error unless ``replace``; then its block is replaced in place."""
    _update(path, lambda text: with_account(text, entry, replace=replace))


def remove_account(path: Path, name: str) -> bool:
    """Remove account ``name`` from ``path``; False when there was no such account (nothing written)."""
    removed = False

    def change(text: str) -> str:
        nonlocal removed
        new_text, removed = without_account(text, name)
        return new_text

    target = _target(path)
    if not target.exists():
        return False
    _update(target, change)
    return removed


def account_names(path: Path) -> list[str]:
    """The account names in the accounts section of ``path`` (empty when there is no file)."""
    text, _ = _read(_target(path))
    section = _find_section(text.splitlines(keepends=True))
    return [name for name, _, _ in section.blocks] if section else []


def read_credentials_file(path: Path) -> tuple[str, str]:
    """The skill's two-line credentials file: API key on line 1, secret on line 2.

    Surrounding whitespace and blank lines before/after are ignored. Errors never echo content."""
    path = Path(path).expanduser()
    try:
        size = path.stat().st_size
        if size > MAX_CREDENTIALS_FILE_BYTES:
            raise AccountsFileError(f"credentials file {path} is too large to be a key and a secret")
        data = path.read_bytes()
    except AccountsFileError:
        raise
    except OSError as exc:
        raise AccountsFileError(f"cannot read credentials file {path}: {exc.strerror or type(exc).__name__}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise AccountsFileError(f"credentials file {path} is not UTF-8 text") from None
    lines = [line.strip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    if len(lines) != 2 or not all(lines):
        raise AccountsFileError(
            f"credentials file {path} must hold exactly two lines: the API key, then the secret "
            f"(found {len(lines)} line{'s' if len(lines) != 1 else ''})"
        )
    api_key, secret = lines
    if not API_KEY_RE.match(api_key):
        raise AccountsFileError(
            f"credentials file {path}: line 1 is not an API key (8-256 printable characters without spaces)"
        )
    if _bad_characters(secret) or any(c.isspace() for c in secret):
        raise AccountsFileError(f"credentials file {path}: line 2 (the secret) contains spaces or control characters")
    return api_key, secret
