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
Every write leaves the file at mode 0600 (the temporary file is ``fchmod``-ed before the
rename), whatever the old file's mode was. Files are opened by ``safe_files``: a symlinked
TOOLS.md or lock file, a FIFO or device, another user's file, a file other users can write
and a directory other users can write are all refused, never followed.

Messages name accounts, fields and files, never a key, secret or passphrase.
"""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from binance_spot_mcp.accounts.reading import (
    ACCOUNT_NAME_RE,
    API_KEY_RE,
    KNOWN_FIELDS,
    MAX_TOOLS_FILE_BYTES,
    account_heading,
    clean_value,
    ends_section,
    is_section_heading,
)
from binance_spot_mcp.config import ENVIRONMENTS, PAPER, base_url_problem, environment_conflict
from binance_spot_mcp.errors import AccountsFileError
from binance_spot_mcp.paper.settings import parse_balances
from binance_spot_mcp.policy import POLICY_FIELDS
from binance_spot_mcp.redact import mask_api_key
from binance_spot_mcp.safe_files import (
    MISSING,
    PRIVATE_MODE,
    UnsafeFile,
    check_directory,
    check_write_target,
    open_private,
    read_file,
    write_private_atomically,
)

SECTION_HEADING = "## Binance Accounts"
NEW_FILE_MODE = PRIVATE_MODE
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
    paper_balances: str | None = None  # a paper account's starting balances ("10000 USDT, 0.05 BTC")

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not ACCOUNT_NAME_RE.match(self.name):
            raise AccountsFileError(
                "an account name is 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
                hint="Choose another name, e.g. 'main' or 'testnet-hmac'.",
            )
        if self.environment == PAPER:
            self._check_paper()
            return
        if self.environment not in ENVIRONMENTS:
            raise AccountsFileError(
                f"account '{self.name}': environment must be mainnet, testnet, demo or paper, not '{self.environment}'"
            )
        if self.paper_balances is not None:
            raise AccountsFileError(f"account '{self.name}': paper balances only go with a paper account")
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
            url = self.base_url.rstrip("/")
            problem = base_url_problem(url) or environment_conflict(url, self.environment)
            if problem:
                raise AccountsFileError(f"account '{self.name}': base URL refused: {problem}")

    def _check_paper(self) -> None:
        """A paper account has no key material at all; its balances must parse."""
        if self.api_key or self.secret is not None or self.private_key_file is not None or self.passphrase is not None:
            raise AccountsFileError(f"account '{self.name}': a paper account takes no API key, secret or key file")
        if _bad_characters(self.description):
            raise AccountsFileError(f"account '{self.name}': the description must be one line of text")
        if self.paper_balances is not None:
            self._check_value("paper balances", self.paper_balances, secret=False)
            try:
                parse_balances(self.paper_balances)
            except ValueError as exc:
                raise AccountsFileError(f"account '{self.name}': paper balances: {exc}") from None
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
        signing = "paper" if self.environment == PAPER else "secret" if self.secret is not None else "private key file"
        return (
            f"AccountEntry(name={self.name!r}, environment={self.environment!r}, "
            f"api_key={mask_api_key(self.api_key)!r}, signing={signing!r})"
        )

    def lines(self) -> list[str]:
        """The block as text lines without line endings, in the format ``accounts`` parses."""
        if self.environment == PAPER:
            out = [f"### {self.name}", f"- Environment: {PAPER}"]
            if self.paper_balances is not None:
                out.append(f"- Paper Balances: {_field_value(self.paper_balances)}")
            if self.base_url is not None:
                out.append(f"- Base URL: {_field_value(self.base_url.rstrip('/'))}")
            if self.description.strip():
                out.append(f"- Description: {_field_value(self.description.strip())}")
            return out
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
    """A guard-rail line, or a field the reader does not know (perhaps a misspelt rule, which
    makes the account refuse changes): a replacement keeps both."""
    match = re.match(r"^\s*[-*]\s+([A-Za-z][A-Za-z ]*?)\s*:", line)
    return bool(match) and (match.group(1).lower() in POLICY_FIELDS or match.group(1).lower() not in KNOWN_FIELDS)


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
                hint="Choose another name, or replace it (add_account with replace: true; on the command line, accounts add --replace).",
            )
        _, first, stop = existing[0]
        # The operator's guard rails (Max Order Value, Dry Run, ...) survive a replace: a new key
        # must not be a way to drop the limits (for example by add_account with replace=true);
        # so do unknown fields, which may be misspelt rules and keep the account refusing.
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


BACKUP_SUFFIX = ".bak"


def _lock_path(path: Path) -> Path:
    return path.parent / f".{path.name}.lock"


def _file_error(exc: UnsafeFile) -> AccountsFileError:
    return AccountsFileError(exc.message, hint=exc.hint or None)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive flock on the sidecar lock file of ``path`` (0600; a planted symlink is refused)."""
    try:
        fd = open_private(_lock_path(path), "lock file", flags=os.O_RDWR)
    except UnsafeFile as exc:
        raise AccountsFileError(f"cannot lock {path}: {exc.message}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as exc:
            raise AccountsFileError(f"cannot lock {path}: {exc.strerror or type(exc).__name__}") from None
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _target(path: Path) -> Path:
    """The file a write lands on: the path itself (a symlink there is refused, never followed)."""
    return Path(os.path.abspath(Path(path).expanduser()))


def _read(path: Path) -> str:
    """The file's text ("" when it does not exist yet). Other users' files, symlinks, FIFOs,
    devices and files other users can write are refused; a group-readable file is read (the
    write that follows makes it 0600)."""
    try:
        data = read_file(path, limit=MAX_TOOLS_FILE_BYTES, what="accounts file", allow_readable=True)
    except UnsafeFile as exc:
        if exc.reason == MISSING:
            return ""
        raise _file_error(exc) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise AccountsFileError(f"{path} is not UTF-8 text; not modified") from None


def _write_atomically(path: Path, text: str) -> None:
    data = text.encode("utf-8")
    if len(data) > MAX_TOOLS_FILE_BYTES:
        raise AccountsFileError(f"{path} would grow beyond {MAX_TOOLS_FILE_BYTES} bytes; not modified")
    try:
        write_private_atomically(path, data, "accounts file")
    except UnsafeFile as exc:
        raise _file_error(exc) from None
    except OSError as exc:
        raise AccountsFileError(
            f"cannot write {path}: {exc.strerror or type(exc).__name__}; the file was not changed"
        ) from None


def backup_path(path: Path) -> Path:
    """Where the previous version of ``path`` is kept before a change made over MCP."""
    target = _target(path)
    return target.with_name(target.name + BACKUP_SUFFIX)


def _update(path: Path, change: Callable[[str], str], *, backup: bool = False) -> Path | None:
    """Apply ``change`` under the lock; with ``backup``, first keep the old text (mode 0600).
    Returns the backup's path when one was written."""
    target = _target(path)
    if not target.parent.is_dir():
        raise AccountsFileError(f"the directory of {target} does not exist")
    try:
        check_directory(target.parent, "accounts file")
        check_write_target(target, "accounts file")
    except UnsafeFile as exc:
        raise _file_error(exc) from None
    with _locked(target):
        text = _read(target)
        new_text = change(text)
        if new_text == text:  # nothing to do (a change always adds or removes text)
            return None
        kept = None
        if backup and text:
            kept = backup_path(target)
            _write_atomically(kept, text)
        _write_atomically(target, new_text)
        return kept


def add_account(path: Path, entry: AccountEntry, *, replace: bool = False, backup: bool = False) -> Path | None:
    """Add ``entry`` to the accounts section of ``path`` (created 0600 if missing).

    An account of the same name is an error unless ``replace``; then its block is replaced in place.
    With ``backup`` the previous file is kept next to it (see ``backup_path``), which is returned."""
    return _update(path, lambda text: with_account(text, entry, replace=replace), backup=backup)


def remove_account(path: Path, name: str) -> bool:
    """Remove account ``name`` from ``path``; False when there was no such account (nothing written)."""
    removed = False

    def change(text: str) -> str:
        nonlocal removed
        new_text, removed = without_account(text, name)
        return new_text

    target = _target(path)
    if not os.path.lexists(target):
        return False
    _update(target, change)
    return removed


def account_names(path: Path) -> list[str]:
    """The account names in the accounts section of ``path`` (empty when there is no file)."""
    text = _read(_target(path))
    section = _find_section(text.splitlines(keepends=True))
    return [name for name, _, _ in section.blocks] if section else []


NOT_A_KEY_FILE = "is not a Binance key file (two lines: the API key, then the secret)"


def read_credentials_file(path: Path, *, allow_readable: bool = False) -> tuple[str, str]:
    """The skill's two-line credentials file: API key on line 1, secret on line 2.

    Read under ``safe_files`` rules (a 0600 regular file of this user, small). Surrounding
    whitespace and blank lines before/after are ignored. A file of another shape is reported as
    "not a Binance key file" and nothing more: no line count, no fragment of its content."""
    path = Path(path).expanduser()
    try:
        data = read_file(
            path, limit=MAX_CREDENTIALS_FILE_BYTES, what="credentials file", allow_readable=allow_readable
        )
    except UnsafeFile as exc:
        raise _file_error(exc) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise AccountsFileError(f"credentials file {path} {NOT_A_KEY_FILE}") from None
    lines = [line.strip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    if (
        len(lines) != 2
        or not API_KEY_RE.match(lines[0])
        or not lines[1]
        or _bad_characters(lines[1])
        or any(c.isspace() for c in lines[1])
    ):
        raise AccountsFileError(f"credentials file {path} {NOT_A_KEY_FILE}")
    api_key, secret = lines
    return api_key, secret
