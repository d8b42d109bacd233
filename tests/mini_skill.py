"""A small SKILL.md used by the unit tests of the catalog and schema code."""

MINI_SKILL = """---
name: binance-spot
description: test skill
metadata:
  version: 1.0.1
  author: tests
---

# Test skill

## Toolsets

| Toolset | Description | Server tools |
|---------|-------------|--------------|
| market | Market data. | — |
| trade | Orders. | — |
| account | Account reads. | — |

## Quick Reference

| Tool | Toolset | Method | Path | Description | Required | Optional | Security | Weight |
|------|---------|--------|------|-------------|----------|----------|----------|--------|
| `get_order_book` | market | GET | `/api/v3/depth` | Get the order book. | symbol | limit | NONE | 5 |
| `get_ticker_price` | market | GET | `/api/v3/ticker/price` | Get prices. | — | symbol, symbols | NONE | 2 |
| `place_order` | trade | POST | `/api/v3/order` | Place an order. | symbol, side, type | quantity, price, timeInForce, recvWindow, newClientOrderId | TRADE | 1 |
| `test_order` | trade | POST | `/api/v3/order/test` | Test an order. | symbol, side, type | quantity, computeCommissionRates | TRADE | 1 |
| `cancel_order` | trade | DELETE | `/api/v3/order` | Cancel an order. | symbol | orderId, origClientOrderId, recvWindow | TRADE | 1 |
| `get_account` | account | GET | `/api/v3/account` | Get balances. | — | omitZeroBalances, recvWindow | USER_DATA | 20 |

## Parameters

| Parameter | Type | Constraints | Description |
|-----------|------|-------------|-------------|
| symbol | string | — | Trading pair, e.g. BTCUSDT. |
| symbols | string[] | maxItems 100 | Several pairs. |
| limit | integer | range 1..1000 | How many rows. |
| side | enum:Side | — | BUY or SELL. |
| type | enum:OrderType | — | Order type. |
| quantity | decimal | — | Base asset amount. |
| price | decimal | — | Limit price. |
| timeInForce | enum:TimeInForce | — | How long the order lives. |
| recvWindow | decimal | range 0..60000 | Validity window in ms. |
| newClientOrderId | string | maxLength 36 | Your id for the order. |
| orderId | integer | min 0 | Exchange order id. |
| origClientOrderId | string | — | Client order id. |
| computeCommissionRates | boolean | — | Also compute fees. |
| omitZeroBalances | boolean | — | Hide empty balances. |

## Endpoint Parameters

| Tool | Parameter | Type | Constraints | Description |
|------|-----------|------|-------------|-------------|
| get_order_book | limit | — | range 1..5000 | Depth to return. |

## Parameter Rules

| Tool | Rule | Parameters |
|------|------|------------|
| get_ticker_price | at most one of | symbol, symbols |
| cancel_order | at least one of | orderId, origClientOrderId |

## Enums

| Enum | Values | Description |
|------|--------|-------------|
| Side | `BUY`, `SELL` | Order side. |
| OrderType | `LIMIT`, `MARKET`, `STOP_LOSS_LIMIT`, `LIMIT_MAKER` | Order types. |
| TimeInForce | `GTC`, `IOC`, `FOK` | Time in force. |
"""
