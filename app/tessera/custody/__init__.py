"""Custody operations: the ceremonies as calls that tie core, tokens and vault together.

Both front ends (``cli.py`` and ``gui/``) call these, so a release or a drill behaves
the same, writes the same audit entries and refuses the same things everywhere.
Layering: imports core, tokens, vault and sheets; never Qt, never a front end.
"""
