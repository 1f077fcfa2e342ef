"""The ``supportbot`` command line (an entry point: it may import every layer)."""
