"""The accounts wing: named Binance accounts and the TOOLS.md file that holds them.

Owns: reading TOOLS.md into ``Account`` values (``reading``), the live view that re-reads it and
resolves a name (``store``), writing it safely (``writing``: atomic, 0600, other bytes kept), the
key files a model may name (``key_paths``), and the account tools list/show/add
(``tools``). Secrets are registered with the redactor the moment they are read.

May use: the exchange wing (to load signing keys), the catalog wing (argument schemas) and the
foundations; ``reading`` and ``store`` know nothing of MCP (an import-linter contract). Never
approval, guard or streams: ``add_account``'s approval is decided by the server wiring, which
asks the approval wing.

Offers: ``reading.Account`` / ``AccountSet`` / ``DEFAULT_ACCOUNT``, ``store.AccountStore`` /
``market_data_source``, ``writing.add_account`` / ``remove_account`` / ``AccountEntry``,
``tools.AccountTools`` and its tool definitions.
"""
