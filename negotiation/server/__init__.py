"""The HTTP service (``negotiation serve``): any program appends, asks and follows over HTTP.

An interface over the facade, like the command line: ``create_app`` builds the
Litestar application, ``run`` serves it with uvicorn. Nothing in the library
imports this package; it needs the ``server`` extra.
"""

from negotiation.server.app import app_from_env, create_app
from negotiation.server.run import StartupError, run
from negotiation.server.settings import ServerSettings

__all__ = ["ServerSettings", "StartupError", "app_from_env", "create_app", "run"]
