"""The ``ragapi`` command: ``up`` (everything on one port), ``serve`` (one service), clients."""
