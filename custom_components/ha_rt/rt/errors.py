"""Exceptions raised by the Request Tracker REST2 client.

Messages name the request and the value involved, never the API token.
"""

from __future__ import annotations


class RTError(Exception):
    """Base class for every error the RT client raises."""


class RTConnectionError(RTError):
    """RT could not be reached, the TLS handshake failed, or RT is briefly unavailable.

    Transient responses (HTTP 429, 502, 503, 504) are raised as this class too, so a
    caller may retry.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        """Store the message and the delay in seconds from a Retry-After header."""
        super().__init__(message)
        self.retry_after = retry_after


class RTTimeoutError(RTConnectionError):
    """The request timed out; it may still have reached RT and taken effect."""


class RTAuthenticationError(RTError):
    """RT rejected the API token (HTTP 401)."""


class RTPermissionError(RTError):
    """RT refused the request (HTTP 403).

    RT 5.0.3 returns 403 for a queue or catalog that does not exist or that the token
    may not see, and for missing rights, so this is a configuration problem and not a
    reason to ask for a new token.
    """

    def __init__(self, message: str, *, rt_message: str | None = None) -> None:
        """Store the message and the text RT sent with the 403, if any."""
        super().__init__(message)
        self.rt_message = rt_message


class RTNotFoundError(RTError):
    """The ticket, asset, queue or catalog does not exist (HTTP 404)."""


class RTAPIError(RTError):
    """RT refused the request.

    Raised for HTTP 4xx and 5xx responses without a class of their own, and for HTTP 200
    responses whose message list reports a refusal (RT 5.0.3 returns 200 for an update
    that it did not apply).
    """

    def __init__(self, message: str, *, status: int, messages: tuple[str, ...] = ()) -> None:
        """Store the message, the HTTP status and the messages RT sent."""
        super().__init__(message)
        self.status = status
        self.messages = messages


class RTInvalidResponseError(RTError):
    """RT sent a response that is not JSON or does not have the expected shape."""
