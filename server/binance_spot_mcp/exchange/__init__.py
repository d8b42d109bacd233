"""The exchange wing: everything that speaks Binance Spot REST.

Owns: the HTTP client (``client``: encoding, timestamps, signatures, reply mapping, read retries,
clock offset), request signing (``signing``: HMAC, RSA, Ed25519 keys), client-side rate limits
(``limits``), the legs of an order and the symbol filters they must pass (``order_legs``,
``filters``, ``filter_cache``), what an order is worth (``pricing``), client order ids and lost
replies (``orders``), the public facts the call pipeline asks about a symbol, the nearest listed
symbols for an unknown one included (``market_facts``), whether an account certainly cannot pay
for an order, asked before a human is (``funds``), and kline replies under named columns
(``labels``).

May use: the catalog wing (an ``Endpoint`` says method, path, security and weight) and the
foundations. It never imports accounts, approval, guard, streams or MCP: it signs for any
``client.Credentials`` (an API key and a signer), so a second venue could sit beside it.

Offers: ``client.BinanceClient`` / ``Reply`` / ``Credentials``, ``signing.Signer`` /
``signer_from_key_file``, ``limits.RateLimiter``, ``filters.check_order`` / ``FilterRejected``,
``filter_cache.ExchangeInfoCache``, ``order_legs.ORDER_TOOLS`` / ``order_legs``,
``pricing.order_value``, ``orders.with_client_id`` / ``lookup_for`` / ``verdict``,
``market_facts.MarketFacts``, ``funds.shortfall`` / ``needed``, ``labels.shaped``.
"""
