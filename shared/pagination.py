"""One page of a list, and the ``limit``/``offset`` query parameters every list endpoint takes."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

T = TypeVar("T")

MAX_PAGE_SIZE = 200

Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="page size")]
Offset = Annotated[int, Query(ge=0, le=1_000_000, description="items to skip")]


class Page(BaseModel, Generic[T]):
    items: list[T]
    limit: int
    offset: int
    total: int
