"""What the API answers (the contract's ``D`` and task) and what it accepts."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ragapi_common.contracts.payloads import DocumentStatus, TaskStatus


class Document(BaseModel):
    """The contract's ``D``."""

    doc_id: str
    name: str
    content_type: str
    size: int
    sha256: str
    status: DocumentStatus
    error: str | None = None
    duplicate: bool = False
    created_at: str
    updated_at: str
    metadata: dict[str, Any] = Field(default_factory=dict)
    #: Chunks indexed, and whether an LLM extracted a graph (False: vectors only).
    chunks: int | None = None
    llm: bool | None = None
    #: What indexing left out without failing the document (e.g. a multimodal analysis).
    warning: str | None = None
    #: While ``indexing``: how far LightRAG is ("1,234 of 24,000 chunks extracted after 310 s").
    progress: str | None = None

    @classmethod
    def from_record(cls, raw: dict[str, str]) -> Document:
        return cls(
            doc_id=raw["doc_id"],
            name=raw.get("name", ""),
            content_type=raw.get("content_type", ""),
            size=int(raw.get("size", "0")),
            sha256=raw.get("sha256", ""),
            status=raw["status"],  # type: ignore[arg-type]
            error=raw.get("error") or None,
            created_at=raw["created_at"],
            updated_at=raw["updated_at"],
            metadata=json.loads(raw.get("metadata") or "{}"),
            chunks=int(raw["chunks"]) if raw.get("chunks") else None,
            llm=raw["llm"] == "1" if raw.get("llm") else None,
            warning=raw.get("warning") or None,
            progress=raw.get("progress") or None,
        )


class TaskCounts(BaseModel):
    status: TaskStatus
    total: int
    done: int
    failed: int

    @classmethod
    def of(cls, total: int, by_status: Mapping[str, int]) -> TaskCounts:
        """Counts from how many of the task's documents are in each status (``gone``:
        deleted since, counted as done)."""
        failed = by_status.get("failed", 0)
        done = by_status.get("processed", 0) + by_status.get("gone", 0)
        if done + failed >= total:
            status: TaskStatus = (
                "succeeded" if failed == 0 else "failed" if done == 0 else "partial"
            )
        elif by_status.get("queued", 0) >= total:
            status = "queued"
        else:
            status = "running"
        return cls(status=status, total=total, done=done, failed=failed)

    @property
    def finished(self) -> bool:
        return self.status in ("succeeded", "failed", "partial")


class Task(BaseModel):
    task_id: str
    kind: str
    counts: TaskCounts
    documents: list[Document]

    def body(self) -> dict[str, Any]:
        """The contract's task answer."""
        return {
            "task_id": self.task_id,
            "kind": self.kind,
            **self.counts.model_dump(),
            "documents": [doc.model_dump(exclude_none=True) for doc in self.documents],
        }


# --- request and answer bodies (for validation and OpenAPI) ---------------------------------
class TextDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1)
    name: str | None = Field(default=None, max_length=1024)
    metadata: dict[str, Any] | None = None


class TextBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    documents: list[TextDocument] = Field(min_length=1)


class UploadForm(BaseModel):
    """``multipart/form-data``: one or more ``files`` parts and an optional ``metadata`` part."""

    files: list[bytes]
    metadata: dict[str, Any] | None = None


class Accepted(BaseModel):
    task_id: str
    documents: list[Document]


class DeleteAccepted(BaseModel):
    task_id: str


class DocumentPage(BaseModel):
    documents: list[Document]
    next_cursor: str | None


class TaskAnswer(TaskCounts):
    task_id: str
    kind: str
    documents: list[Document]
