"""Tests of the exchange wing: the REST client, signing, rate limits, filters, pricing, orders and lost replies."""
