"""Grassroots: grid governance for Chinese counties, towns, villages and communities."""

__version__ = "0.1.0"
