"""Files that hold secrets, read and written without being tricked (invariants 1 and 5).

One set of rules for TOOLS.md, private key files, credentials files, the lock file and the
journal:

* every open uses ``O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC``: a symbolic link is refused, and a
  FIFO or device can never block the process; the descriptor is then ``fstat``-ed, never the
  path, so what is checked is what is read;
* the file must be a regular file owned by the current user; a read stops after a small limit
  (a file that grows while it is read is refused, not read without end);
* like ssh, a private file (TOOLS.md, a key, a credentials file) that other users can write,
  or that sits in a directory other users can write (without the sticky bit), is refused; one
  that other users can *read* is refused too unless the operator passed
  ``--insecure-permissions``;
* writes go to a fresh temporary file (``mkstemp``: O_EXCL, never a planted name) that is
  ``fchmod``-ed to 0600, fsync-ed and renamed over the target; a target that is a symlink or
  not a regular file is refused;
* blocking reads are run off the event loop with ``read_file_async``.

Messages name the file and the rule, never its content.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import stat
import tempfile
from pathlib import Path

import anyio.to_thread

PRIVATE_MODE = 0o600
PRIVATE_DIRECTORY_MODE = 0o700
_OPEN_FLAGS = os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY
_GROUP_OTHER_WRITE = stat.S_IWGRP | stat.S_IWOTH
_GROUP_OTHER_ANY = stat.S_IRWXG | stat.S_IRWXO
INSECURE_FLAG = "--insecure-permissions"

# Why a file was refused (UnsafeFile.reason).
MISSING, SYMLINK, NOT_REGULAR, NOT_OWNED, WRITABLE, READABLE, DIRECTORY, TOO_LARGE, UNREADABLE = (
    "missing", "symlink", "not_regular", "not_owned", "writable", "readable", "directory", "too_large", "unreadable",
)


class UnsafeFile(Exception):
    """A file was refused or could not be used. ``str()`` names the file and the rule only."""

    def __init__(self, message: str, *, reason: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.hint = hint


def current_uid() -> int:
    """The user files must belong to (a function, so tests can pretend to be someone else)."""
    return os.geteuid()


def _os_problem(path: Path, what: str, exc: OSError) -> UnsafeFile:
    if exc.errno == errno.ENOENT:
        return UnsafeFile(f"{what} {path} does not exist", reason=MISSING)
    if exc.errno == errno.ELOOP:
        return UnsafeFile(
            f"{what} {path} is a symbolic link; refused (point at the real file)", reason=SYMLINK
        )
    return UnsafeFile(f"cannot open {what} {path}: {exc.strerror or type(exc).__name__}", reason=UNREADABLE)


def check_directory(directory: Path, what: str) -> None:
    """Refuse a directory that other users could use to swap the file (ssh's StrictModes)."""
    try:
        info = os.stat(directory)
    except OSError as exc:
        raise UnsafeFile(f"the directory of {what} {directory} cannot be examined: {exc.strerror}", reason=DIRECTORY) from None
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafeFile(f"{directory} is not a directory", reason=DIRECTORY)
    if info.st_uid not in (current_uid(), 0):
        raise UnsafeFile(
            f"the directory {directory} (holding {what}) belongs to another user (uid {info.st_uid}); refused",
            reason=DIRECTORY,
        )
    if info.st_mode & _GROUP_OTHER_WRITE and not info.st_mode & stat.S_ISVTX:
        raise UnsafeFile(
            f"the directory {directory} (holding {what}) is writable by other users "
            f"(mode {stat.S_IMODE(info.st_mode):o}); refused",
            reason=DIRECTORY,
            hint=f"chmod go-w {directory}",
        )


def check_descriptor(fd: int, path: Path, what: str, *, private: bool, allow_readable: bool = False) -> os.stat_result:
    """The rules every opened descriptor must pass; returns its ``fstat``."""
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        raise UnsafeFile(f"{what} {path} is not a regular file; refused", reason=NOT_REGULAR)
    if info.st_uid != current_uid():
        raise UnsafeFile(
            f"{what} {path} belongs to another user (uid {info.st_uid}); refused",
            reason=NOT_OWNED,
            hint=f"chown $(id -u) {path}",
        )
    if private:
        mode = stat.S_IMODE(info.st_mode)
        if mode & _GROUP_OTHER_WRITE:
            raise UnsafeFile(
                f"{what} {path} is writable by other users (mode {mode:o}); refused: check its content, then chmod 600",
                reason=WRITABLE,
                hint=f"chmod 600 {path}",
            )
        if mode & _GROUP_OTHER_ANY and not allow_readable:
            raise UnsafeFile(
                f"{what} {path} is readable by other users (mode {mode:o}); refused",
                reason=READABLE,
                hint=f"chmod 600 {path} (or start with {INSECURE_FLAG} to accept it)",
            )
    return info


def _read_limited(fd: int, limit: int, path: Path, what: str) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = os.read(fd, min(64 * 1024, limit + 1 - total))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            raise UnsafeFile(f"{what} {path} is larger than {limit} bytes; refused", reason=TOO_LARGE)


def read_file(
    path: Path, *, limit: int, what: str, private: bool = True, allow_readable: bool = False
) -> bytes:
    """At most ``limit`` bytes of ``path`` under the rules above. Raises ``UnsafeFile``."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | _OPEN_FLAGS)
    except OSError as exc:
        raise _os_problem(path, what, exc) from None
    try:
        info = check_descriptor(fd, path, what, private=private, allow_readable=allow_readable)
        if private:
            check_directory(path.parent, what)
        if info.st_size > limit:
            raise UnsafeFile(f"{what} {path} is larger than {limit} bytes; refused", reason=TOO_LARGE)
        return _read_limited(fd, limit, path, what)
    except OSError as exc:
        raise UnsafeFile(f"cannot read {what} {path}: {exc.strerror or type(exc).__name__}", reason=UNREADABLE) from None
    finally:
        os.close(fd)


async def read_file_async(
    path: Path, *, limit: int, what: str, private: bool = True, allow_readable: bool = False
) -> bytes:
    """``read_file`` in a worker thread, so a slow disk never stalls the event loop."""
    return await anyio.to_thread.run_sync(
        functools.partial(read_file, path, limit=limit, what=what, private=private, allow_readable=allow_readable)
    )


def open_private(path: Path, what: str, *, flags: int) -> int:
    """Open (creating 0600) a file only this user may use: the lock file, the journal.

    A symlink, a non-regular file or another user's file is refused; a file of ours with a
    looser mode is tightened to 0600. Returns the descriptor."""
    path = Path(path)
    try:
        fd = os.open(path, flags | os.O_CREAT | _OPEN_FLAGS, PRIVATE_MODE)
    except OSError as exc:
        raise _os_problem(path, what, exc) from None
    try:
        info = check_descriptor(fd, path, what, private=False)
        if stat.S_IMODE(info.st_mode) != PRIVATE_MODE:
            os.fchmod(fd, PRIVATE_MODE)
        # (O_NONBLOCK does nothing to a regular file, and flock waits unless asked for LOCK_NB)
    except BaseException:
        os.close(fd)
        raise
    return fd


def check_write_target(path: Path, what: str) -> None:
    """Before replacing ``path``: refuse a symlink, a non-regular file or another user's file."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise UnsafeFile(f"cannot examine {what} {path}: {exc.strerror}", reason=UNREADABLE) from None
    if stat.S_ISLNK(info.st_mode):
        raise UnsafeFile(f"{what} {path} is a symbolic link; not modified (point at the real file)", reason=SYMLINK)
    if not stat.S_ISREG(info.st_mode):
        raise UnsafeFile(f"{what} {path} is not a regular file; not modified", reason=NOT_REGULAR)
    if info.st_uid != current_uid():
        raise UnsafeFile(f"{what} {path} belongs to another user (uid {info.st_uid}); not modified", reason=NOT_OWNED)


def write_private_atomically(path: Path, data: bytes, what: str) -> None:
    """Replace ``path`` with ``data``: temp file, fchmod 0600, fsync, rename, fsync the directory.

    A crash leaves the old file or the new one, never a torn one. Raises ``UnsafeFile`` or ``OSError``."""
    path = Path(path)
    check_write_target(path, what)
    # beside the target (a rename never crosses file systems), hidden, never a planted name (O_EXCL)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), PRIVATE_MODE)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    fsync_directory(path.parent)


def fsync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable (best effort: some file systems refuse)."""
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


def is_inside(path: Path, roots: list[Path]) -> bool:
    """True when ``path`` (resolved) lies inside one of ``roots`` (resolved)."""
    resolved = Path(os.path.realpath(path))
    for root in roots:
        real_root = Path(os.path.realpath(root))
        if resolved == real_root or real_root in resolved.parents:
            return True
    return False
