"""ASGI entry point for servers started outside `diffmix serve` (e.g. `uvicorn service.main:app`)."""

from diffmix import logs
from diffmix.settings import Settings
from service.app import create_app
from service.server import HeaderTimeoutH11Protocol

settings = Settings()
logs.configure(settings.log_json, settings.log_level)
HeaderTimeoutH11Protocol.header_timeout_s = settings.header_timeout_s  # a worker process: set it here too
app = create_app(settings)
