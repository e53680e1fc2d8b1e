"""The FastAPI service: app factory, settings, routers, dependencies and error mapping.

It depends on :mod:`provenance` and never the other way round.
"""
