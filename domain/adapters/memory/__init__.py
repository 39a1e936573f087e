"""In-memory twins of the ports, one module per port module: fast unit tests of the use cases, demos,
and the other side of every contract suite (tests/integration/ports/)."""
