"""Tessera: fallback credential custody."""

__version__ = "0.1.0"
