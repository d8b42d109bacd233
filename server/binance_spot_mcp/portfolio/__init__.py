"""The portfolio wing: what an account holds, what it is worth, what it cost and what it made.

Owns: the cost-basis arithmetic (``costs``: weighted average and FIFO in Decimal, realised and
unrealised P&L, fees, a fee in BNB as a BNB disposal, coverage; no I/O), prices in a valuation
asset (``pricing``: direct pair, else one bridge; unpriced assets listed), the local trade history
in the desk database (``cache``: trades, ``fromId`` checkpoints, past rates), its sync (``sync``:
``myTrades`` by ``fromId`` within a share of the request-weight budget, resumable, with progress),
the result and its text table (``report``), the ``get_portfolio`` tool (``tool``), the MCP Apps
card (``card``) and the trade export (``export``).

May use: the accounts, exchange, catalog and store wings and the foundations. Every request goes
through the runtime's ``BinanceClient`` with the account (nothing is signed here). Never approval,
guard or streams.

Offers: ``tool.PortfolioTools`` / ``TOOLS`` / ``NAMES`` / ``GET_PORTFOLIO``, ``costs.replay`` /
``position``, ``sync.TradeSync`` / ``minimum_requests``, ``cache.TradeCache``.
"""
