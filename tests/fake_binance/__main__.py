"""``python -m tests.fake_binance --port N``: run the fake exchange standalone."""

from __future__ import annotations

import argparse
import sys
import threading

from .server import running_fake


def main(argv: list[str] | None = None) -> int:
    """Start the fake and block until interrupted."""
    parser = argparse.ArgumentParser(description="Fake Binance Spot REST exchange")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 = ephemeral)")
    args = parser.parse_args(argv)
    with running_fake(port=args.port) as fake:
        print(f"fake Binance listening on {fake.base_url}", file=sys.stderr, flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
