"""Webhooks and their deliveries.

Webhooks and deliveries are answered as the engine's `WebhookInfo` and `DeliveryInfo`;
``secret`` (the HMAC key) is only in the answer to a registration.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from labelloop.engine.webhooks import WEBHOOK_EVENTS, DeliveryInfo, WebhookInfo
from labelloop.server.schemas.common import RequestModel

__all__ = ["DeliveryInfo", "WebhookCreate", "WebhookInfo"]


class WebhookCreate(RequestModel):
    url: str = Field(min_length=8, max_length=2000, pattern=r"^https?://")
    events: list[Literal[WEBHOOK_EVENTS]] = Field(  # type: ignore[valid-type]
        min_length=1, max_length=len(WEBHOOK_EVENTS)
    )
    secret: str | None = Field(default=None, min_length=16, max_length=200)
