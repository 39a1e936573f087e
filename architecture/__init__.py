"""Folio's own import-linter contract types (registered under `contract_types` in pyproject.toml)."""
