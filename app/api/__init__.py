"""The HTTP layer: FastAPI application, dependencies, routes and error handlers."""
