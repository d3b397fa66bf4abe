from __future__ import annotations

from taskboard.core.errors import NotFound


class WebhookNotFound(NotFound):
    type = "webhook-not-found"
    title = "Webhook not found"


class DeliveryNotFound(NotFound):
    type = "delivery-not-found"
    title = "Webhook delivery not found"
