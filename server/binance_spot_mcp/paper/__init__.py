"""The paper wing: trading on live prices with no key and no money (``Environment: paper``).

Owns: the fill model (``matching``: book walks, resting fills from aggregate trades, stop
triggers), the paper accounts' state in the desk database (``ledger``: balances, orders, trades
with receipts, checkpoints), public market data for it (``market``), new orders and the catch-up
(``placing``), the endpoint answers in Binance's shapes (``desk``, ``views``), a paper account's
settings and its signer that signs nothing (``settings``), and the client that routes a paper
account's requests to the desk instead of the network (``routing``).
May use: the exchange wing (client, filters), the catalog, the store and the foundations. Never
accounts, approval, guard or streams (accounts read ``settings``; the server wires ``routing``).
Offers: ``routing.PaperRoutingClient`` / ``is_paper``, ``settings.PaperSettings`` / ``PaperSigner`` /
``parse_balances`` / ``parse_commission``, ``desk.PaperDesk``, ``ledger.Ledger``.
"""
