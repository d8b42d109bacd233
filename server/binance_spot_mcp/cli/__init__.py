"""cli wing (docstring to write)."""

from binance_spot_mcp.cli.main import main

__all__ = ["main"]
