"""The alerts processor: declared rules over the canonical events."""
