"""Folio's domain values: plain, typed, frozen msgspec Structs, one module per concern."""
