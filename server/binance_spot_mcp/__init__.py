"""binance-spot-mcp: every Binance Spot REST endpoint as an MCP tool.

The tools are generated at start-up from the tables in the bundled SKILL.md. The package is a
house with wings (ARCHITECTURE.md): ``cli`` and ``transport`` on top, ``server`` wiring the
wings ``approval``, ``guard``, ``streams``, ``accounts``, ``exchange`` and ``catalog`` together,
and the foundation modules (``config``, ``errors``, ``journal``, ``policy``, ``redact``,
``results``, ``safe_files``) beneath them all.
"""

__version__ = "0.1.0"
