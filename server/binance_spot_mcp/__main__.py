"""Allow ``python -m binance_spot_mcp``."""

from binance_spot_mcp.cli.commands import main

if __name__ == "__main__":
    raise SystemExit(main())
