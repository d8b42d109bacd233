"""The streams wing: live market data and account events over Binance's WebSockets.

Owns: one self-healing connection (``connection``: reconnects with backoff, paced messages),
market streams shared per environment (``market``), the user data stream per account over the
WebSocket API (``user``), a paper account's events from the paper desk with no network and its
periodic catch-up while someone listens (``paper``), what a subscription holds between reads
(``buffers``: cursors, snapshots, bounded rings), full names for the events' one-letter fields
(``labels``), the live state of a running server (``hub``) and the ``streams``
toolset (``tools``: subscribe, read, list, unsubscribe, wait for an order).

May use: the accounts wing (a user data stream signs with an account's key), the exchange wing
(``BinanceClient`` for the REST snapshot of a book), the paper wing (``routing`` tells a paper
account and holds its desk, whose ``events`` feed it), the catalog and the foundations. Never
approval or guard: every stream tool is read-only.

Offers: ``tools.StreamTools`` / ``TOOLS`` / ``NAMES``; its method ``order_seen`` lets the send
path learn an order's fate from the account's events when its reply was lost.
"""
