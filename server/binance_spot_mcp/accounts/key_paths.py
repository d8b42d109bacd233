"""Key and credentials files named over MCP: only where the operator keeps them.

A model can name any path in ``add_account``; without a limit it could make the server read
(and copy into TOOLS.md) any file the process can read, sign with an SSH key, or probe which
paths exist. So a ``credentials_file`` or ``private_key_file`` given over MCP must lie inside
TOOLS.md's directory or this server's config directory (``Settings.config_dir``), after every
symlink is resolved, and must be a 0600 regular file of this user (``safe_files``; no
``--insecure-permissions`` here). A path outside gets the same answer whether it exists or not.
The CLI, run by the human at a terminal, is not limited this way.
"""

from __future__ import annotations

from pathlib import Path

from binance_spot_mcp.accounts.store import AccountStore
from binance_spot_mcp.errors import ToolInputError
from binance_spot_mcp.exchange.signing import KeyLoadError, signer_from_key_file
from binance_spot_mcp.safe_files import is_inside


def key_directories(store: AccountStore) -> list[Path]:
    """Where files named over MCP may live: TOOLS.md's directory, then the config directory."""
    return [store.path.parent, store.settings.config_dir]


def local_key_path(raw: str, parameter: str, store: AccountStore) -> Path:
    """``raw`` as an absolute path (relative paths are taken from TOOLS.md's directory),
    refused with one fixed message unless it lies in ``key_directories``."""
    path = Path(raw).expanduser()
    if not path.is_absolute():
        path = store.path.parent / path
    roots = key_directories(store)
    if not is_inside(path, roots):
        raise ToolInputError(
            f"'{parameter}' must name a file in {roots[0]} or {roots[1]}",
            parameter=parameter,
            hint="Move the file there (mode 0600), or add the account with the CLI: binance-spot-mcp accounts add.",
        )
    return path


def check_key_file(raw: str, passphrase: str | None, store: AccountStore) -> Path:
    """The private key file named over MCP, checked to be an allowed, loadable Binance key."""
    path = local_key_path(raw, "private_key_file", store)
    try:
        signer_from_key_file(path, passphrase)
    except KeyLoadError as exc:
        raise ToolInputError(str(exc), parameter="private_key_file") from None
    return path
