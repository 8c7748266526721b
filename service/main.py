"""ASGI entry point for servers started outside `diffmix serve` (e.g. `uvicorn service.main:app`)."""

from diffmix import logs
from diffmix.settings import Settings
from service.app import create_app

settings = Settings()
logs.configure(settings.log_json, settings.log_level)
app = create_app(settings)
