"""Request and response bodies of notify's HTTP API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AnyHttpUrl, BaseModel, Field, field_validator

from services.notify.domain import (
    WEBHOOK_EVENT_TYPES,
    DeliveryStatus,
    embargoed_event_types,
    unknown_event_types,
)
from shared.bodies import RequestBody
from shared.events import ResultsPublishedV1
from shared.vocabulary import Channel


class FeedItemView(BaseModel):
    id: uuid.UUID
    case_id: uuid.UUID
    template: str
    language: str
    title: str
    body: str
    created_at: datetime
    read_at: datetime | None


class DeliveryView(BaseModel):
    id: uuid.UUID
    case_id: uuid.UUID | None = Field(description="None for a message about a call or the running system")
    source_event_id: uuid.UUID
    source_event_type: str
    channel: Channel
    recipient: str
    language: str
    template: str
    subject: str
    body: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


class WebhookBody(RequestBody):
    url: AnyHttpUrl = Field(description="http(s) endpoint that receives CloudEvents")
    secret: str = Field(min_length=16, max_length=256, description="HMAC-SHA256 key for X-Kipina-Signature")
    event_types: list[Annotated[str, Field(json_schema_extra={"enum": sorted(WEBHOOK_EVENT_TYPES)})]] = Field(
        default=[],
        max_length=50,
        description="CloudEvent types; empty = all but the embargoed kipina.award.decided.v1, which no webhook gets",
    )

    @field_validator("event_types")
    @classmethod
    def known_types(cls, value: list[str]) -> list[str]:
        unknown = unknown_event_types(value)
        if unknown:
            raise ValueError(f"unknown event types {unknown}; known: {sorted(WEBHOOK_EVENT_TYPES)}")
        embargoed = embargoed_event_types(value)
        if embargoed:
            raise ValueError(
                f"{', '.join(embargoed)} is embargoed and never delivered to webhooks (the jury's decision stays "
                f"inside Kipinä); subscribe to {ResultsPublishedV1.event_type} for the published results"
            )
        return sorted(set(value))


class WebhookView(BaseModel):
    id: uuid.UUID
    url: str
    event_types: list[str]
    created_by: str
    created_at: datetime
