"""The interface every engine offers, and what it is handed."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from ragapi_common.tenancy import Endpoint

from ..content import Extraction
from ..cpu import Share
from ..tasks import DocumentInfo

T = TypeVar("T")


@dataclass(frozen=True)
class Source:
    """A file staged on local disk, already sniffed and checked by :func:`..tasks.inspect`."""

    path: Path
    info: DocumentInfo


@dataclass(frozen=True)
class Caller:
    """Who asks: the tenant (its share of the pool and of the endpoint), its OCR endpoint,
    and whether a page the endpoint cannot read may be read by the local engine instead."""

    tenant_id: str
    endpoint: Endpoint
    weight: float = 1.0
    fallback: bool = False

    @property
    def share(self) -> Share:
        return Share(self.tenant_id, self.weight)


class OcrEngine(Protocol):
    """Document in, pages of content items out."""

    name: str

    async def extract(self, source: Source, caller: Caller) -> Extraction:
        """Every page of ``source``, in order; raises Rejected or a RagapiError."""
        ...


async def all_or_nothing(jobs: Sequence[Awaitable[T]]) -> list[T]:
    """Run ``jobs`` concurrently; the first failure cancels the rest and is raised."""
    tasks = [asyncio.ensure_future(job) for job in jobs]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            error = task.exception()
            if error is not None:
                raise error
        return [task.result() for task in tasks]
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
