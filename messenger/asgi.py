"""ASGI entry point: HTTP to Django, WebSocket /ws/ to the gateway."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "messenger.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from messenger.gateway.auth import JwtAuthMiddleware, OriginCheckMiddleware  # noqa: E402
from messenger.gateway.consumer import GatewayConsumer  # noqa: E402

websocket_urls = [path("ws/", GatewayConsumer.as_asgi())]

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": OriginCheckMiddleware(JwtAuthMiddleware(URLRouter(websocket_urls))),
    }
)
