"""The OpenAI Chat Completions shapes ``/v1/chat/completions`` and ``/v1/models`` speak."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ragapi_common.rag.api import QueryMode

#: Model name -> query mode; ``rag`` alone means the tenant's default mode.
MODELS: dict[str, QueryMode | None] = {
    "rag": None,
    "rag-naive": "naive",
    "rag-local": "local",
    "rag-global": "global",
    "rag-hybrid": "hybrid",
    "rag-mix": "mix",
}


class ChatMessage(BaseModel):
    """A message; ``content`` is a string or a list of parts (only text parts are read)."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "\n".join(
            str(part.get("text", "")) for part in self.content if part.get("type") == "text"
        )


class ChatCompletionRequest(BaseModel):
    """OpenAI's request; sampling fields (temperature, ...) are accepted and ignored.
    ``top_k`` is ragapi's extension (the tenant's default otherwise)."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(max_length=100)
    messages: list[ChatMessage] = Field(min_length=1, max_length=500)
    stream: bool = False
    top_k: int | None = Field(default=None, ge=1, le=500)


class ChatChoice(BaseModel):
    index: int
    message: dict[str, str]
    finish_reason: str


class ChatCompletion(BaseModel):
    """The answer; the text ends with a ``Sources:`` footer, ``references`` lists them too."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    references: list[dict[str, str]]


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "ragapi"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]
