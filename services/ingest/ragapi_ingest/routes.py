"""The ingest service's routes and their OpenAPI description."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from ragapi_common.errors import (
    BadRequest,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
    UnsupportedMediaType,
    ValidationFailed,
)
from ragapi_common.openapi import OpenApi, path_param, query_param
from ragapi_common.web import Slot

from .context import Ingest
from .documents import STATUSES, Documents
from .tasks import Tasks
from .texts import Texts
from .uploads import Uploads
from .views import (
    Accepted,
    DeleteAccepted,
    Document,
    DocumentPage,
    TaskAnswer,
    TextBatch,
    UploadForm,
)


def routes(slot: Slot[Ingest]) -> list[BaseRoute]:
    uploads, texts, documents, tasks = Uploads(slot), Texts(slot), Documents(slot), Tasks(slot)
    return [
        Route("/v1/documents", uploads.post, methods=["POST"]),
        Route("/v1/documents", documents.list, methods=["GET"]),
        Route("/v1/documents/text", texts.post, methods=["POST"]),
        Route("/v1/documents/{doc_id}", documents.get, methods=["GET"]),
        Route("/v1/documents/{doc_id}", documents.delete, methods=["DELETE"]),
        Route("/v1/tasks/{task_id}", tasks.get, methods=["GET"]),
        Route("/v1/tasks/{task_id}/events", tasks.events, methods=["GET"]),
    ]


def openapi() -> OpenApi:
    api = OpenApi("ragapi ingest")
    tag = "documents"
    api.operation(
        "POST", "/v1/documents", "Upload files (streamed; deduplicated per tenant)",
        tag=tag, body=UploadForm, body_media="multipart/form-data", ok=(202, Accepted),
        errors=(BadRequest, Unauthorized, PayloadTooLarge, UnsupportedMediaType, ValidationFailed),
    )  # fmt: skip
    api.operation(
        "POST", "/v1/documents/text", "Add one or many texts",
        tag=tag, body=TextBatch, ok=(202, Accepted),
        errors=(BadRequest, Unauthorized, PayloadTooLarge, ValidationFailed),
    )  # fmt: skip
    api.operation(
        "GET", "/v1/documents", "List documents, newest first",
        tag=tag, ok=(200, DocumentPage), errors=(Unauthorized, ValidationFailed),
        parameters=[
            query_param("status", "only documents in this status", {"enum": list(STATUSES)}),
            query_param("limit", "page size", {"type": "integer", "minimum": 1, "maximum": 500}),
            query_param("cursor", "next_cursor of the previous page", {"type": "string"}),
        ],
    )  # fmt: skip
    api.operation(
        "GET", "/v1/documents/{doc_id}", "One document", tag=tag, ok=(200, Document),
        errors=(Unauthorized, NotFound), parameters=[path_param("doc_id")],
    )  # fmt: skip
    api.operation(
        "DELETE", "/v1/documents/{doc_id}", "Delete a document (from the index too)",
        tag=tag, ok=(202, DeleteAccepted), errors=(Unauthorized, NotFound),
        parameters=[path_param("doc_id")],
    )  # fmt: skip
    api.operation(
        "GET", "/v1/tasks/{task_id}", "A task and its documents", tag="tasks",
        ok=(200, TaskAnswer), errors=(Unauthorized, NotFound), parameters=[path_param("task_id")],
    )  # fmt: skip
    api.operation(
        "GET", "/v1/tasks/{task_id}/events",
        "Progress as Server-Sent Events (snapshot, document, progress, done)",
        tag="tasks", ok_media="text/event-stream", errors=(Unauthorized, NotFound),
        parameters=[path_param("task_id")],
    )  # fmt: skip
    return api
