"""Tessera command line (filled in below)."""
