"""Request Tracker REST2 client used by the integration; it imports nothing from Home Assistant."""

from .client import RTClient
from .errors import (
    RTAPIError,
    RTAuthenticationError,
    RTConnectionError,
    RTError,
    RTInvalidResponseError,
    RTNotFoundError,
    RTPermissionError,
    RTTimeoutError,
)
from .models import Asset, Catalog, Queue, ServerInfo, Ticket

__all__ = [
    "Asset",
    "Catalog",
    "Queue",
    "RTAPIError",
    "RTAuthenticationError",
    "RTClient",
    "RTConnectionError",
    "RTError",
    "RTInvalidResponseError",
    "RTNotFoundError",
    "RTPermissionError",
    "RTTimeoutError",
    "ServerInfo",
    "Ticket",
]
