"""``python -m tests.fake_binance --port N``: run the fake exchange standalone.

For scripts (CI's MCP Inspector check) it can register HMAC accounts and say where it listens:

    python -m tests.fake_binance --hmac-accounts-file keys.txt --ready-file ready.json

``keys.txt`` holds one ``API_KEY:SECRET`` per line (``--hmac-account API_KEY:SECRET`` also works,
but puts the secret on the process list). Once listening, the fake writes ``ready.json``
atomically: ``{"base_url": "http://127.0.0.1:PORT", "port": PORT, "pid": PID, "stream_url": ...,
"ws_api_url": ...}`` (the WebSocket side listens on a second port). SIGTERM stops it.

For a person trying the server (README's quick start), one command does everything:

    python -m tests.fake_binance --try-out DIR

writes ``DIR/TOOLS.md`` (mode 0600) with a throwaway account registered on the fake and prints
the host configuration with every URL variable pointing at the fake (``try_out.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path

from .server import running_fake
from .try_out import TryOutError, announce, new_credentials, prepare_directory, tools_md, write_private


def _hmac_pair(text: str) -> tuple[str, str]:
    api_key, sep, secret = text.strip().partition(":")
    if not sep or not api_key or not secret:
        raise argparse.ArgumentTypeError("expected API_KEY:SECRET")
    return api_key, secret


def _read_pairs(path: str) -> list[tuple[str, str]]:
    lines = Path(path).read_text().splitlines()
    return [_hmac_pair(line) for line in lines if line.strip() and not line.lstrip().startswith("#")]


def _write_ready_file(path: str, base_url: str, port: int, **urls: str) -> None:
    """Write the listening address atomically, so a reader never sees half a file."""
    target = Path(path)
    partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    partial.write_text(json.dumps({"base_url": base_url, "port": port, "pid": os.getpid(), **urls}) + "\n")
    os.replace(partial, target)


def main(argv: list[str] | None = None) -> int:
    """Start the fake and block until interrupted (Ctrl-C or SIGTERM)."""
    parser = argparse.ArgumentParser(description="Fake Binance Spot REST exchange")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 = ephemeral)")
    parser.add_argument("--hmac-account", action="append", default=[], type=_hmac_pair, metavar="API_KEY:SECRET",
                        help="register an HMAC account (repeatable)")
    parser.add_argument("--hmac-accounts-file", action="append", default=[], metavar="PATH",
                        help="register HMAC accounts, one API_KEY:SECRET per line (repeatable)")
    parser.add_argument("--ready-file", metavar="PATH",
                        help="once listening, write {base_url, port, pid} as JSON to PATH (atomically)")
    parser.add_argument("--try-out", metavar="DIR",
                        help="register a throwaway account, write DIR/TOOLS.md (mode 0600) for it and print the "
                             "host configuration that points every Binance URL at this fake")
    args = parser.parse_args(argv)
    tools_file = None
    if args.try_out:
        try:
            tools_file = prepare_directory(Path(args.try_out))
        except (OSError, TryOutError) as exc:
            parser.error(f"--try-out: {exc}")
    try:
        accounts = list(args.hmac_account) + [pair for path in args.hmac_accounts_file for pair in _read_pairs(path)]
    except (OSError, argparse.ArgumentTypeError) as exc:
        parser.error(f"--hmac-accounts-file: {exc}")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with running_fake(port=args.port) as fake:
        for api_key, secret in accounts:
            fake.exchange.add_account(api_key, hmac_secret=secret)
        if tools_file is not None:
            api_key, secret = new_credentials()
            fake.exchange.add_account(api_key, hmac_secret=secret)
            write_private(tools_file, tools_md(api_key, secret, fake.base_url))
            announce(sys.stdout, tools_file=tools_file, base_url=fake.base_url,
                     stream_url=fake.stream_url, ws_api_url=fake.ws_api_url)
        if args.ready_file:
            _write_ready_file(args.ready_file, fake.base_url, fake.port,
                              stream_url=fake.stream_url, ws_api_url=fake.ws_api_url)
        print(f"fake Binance listening on {fake.base_url} ({len(accounts)} HMAC accounts)", file=sys.stderr, flush=True)
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
