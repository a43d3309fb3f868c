"""Operator tooling that works on files: registry edits, bridge scaffolds, client configs, import."""
