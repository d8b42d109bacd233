"""server wing (docstring to write)."""

from binance_spot_mcp.server.runtime import Runtime, build_server

__all__ = ["Runtime", "build_server"]
