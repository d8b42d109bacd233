"""exchange wing (docstring to write)."""
