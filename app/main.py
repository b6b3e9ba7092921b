"""ASGI entry point: `uvicorn app.main:app`."""
