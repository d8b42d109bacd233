"""Tests of the catalog wing: SKILL.md parsing, argument schemas, order-type rules, toolsets, weights, skill resources."""
