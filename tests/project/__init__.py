"""Tests of the project as a whole: docs, packaging, the tool-list snapshot, benchmarks, the layout and test isolation."""
