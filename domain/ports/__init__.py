"""The hexagon's ports, one module per concern: what the use cases need from the outside world, as
Protocols. Each has an in-memory twin in `domain/adapters/memory/` under the same module name."""
