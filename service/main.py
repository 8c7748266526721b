"""ASGI entry point for servers started outside `diffmix serve` (e.g. `uvicorn service.main:app`)."""

from service.app import create_app

app = create_app()
