"""Registered theorem checks, one module per topic (discovered by :func:`registry.discover`)."""
