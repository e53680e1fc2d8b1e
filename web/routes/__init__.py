"""The web's routers: one per concern."""
