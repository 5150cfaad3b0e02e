"""The HTTP service: a FastAPI app over the engine (`create_app`), and its settings."""

from labelloop.server.app import create_app
from labelloop.server.settings import ServerSettings

__all__ = ["ServerSettings", "create_app"]
