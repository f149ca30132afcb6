"""HTTP routes, one module per area; :func:`api.app.create_app` includes their routers."""
