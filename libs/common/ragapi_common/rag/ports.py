"""What the adapter needs of the model clients (structural, see ``ragapi_common.models``).

The registry is handed the process's real clients by its caller; these
protocols only name the methods the adapter calls, so it never imports an
HTTP client itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from ragapi_common.tenancy import Endpoint, LlmLimits


class LlmClient(Protocol):
    async def complete(
        self,
        tenant_id: str,
        endpoint: Endpoint,
        limits: LlmLimits,
        messages: list[dict[str, str]],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        extra_body: dict[str, Any] | None = None,
    ) -> str: ...

    def stream(
        self,
        tenant_id: str,
        endpoint: Endpoint,
        limits: LlmLimits,
        messages: list[dict[str, str]],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        extra_body: dict[str, Any] | None = None,
    ) -> AsyncIterator[str]: ...


class Embedder(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def dim(self) -> int: ...

    async def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]: ...


class Reranker(Protocol):
    async def rerank(
        self,
        tenant_id: str,
        endpoint: Endpoint,
        query: str,
        documents: Sequence[str],
        top_n: int,
    ) -> list[tuple[int, float]]: ...
