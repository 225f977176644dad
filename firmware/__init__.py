"""Compliance-first video recorder firmware."""

__version__ = "0.1.0"
