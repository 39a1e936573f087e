"""Dramatiq actors: thin shells that call one domain use case each (reports arrive with issue 5)."""
