"""Operator extra links to AWS consoles."""
