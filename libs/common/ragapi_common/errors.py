"""One exception tree for every service, mapped to the contract's error JSON once.

    RagapiError                      500 internal_error (a bug if it reaches a client)
    ├── BadRequest                   400 bad_request (malformed JSON or multipart)
    ├── Unauthorized                 401 unauthorized
    ├── NotFound                     404 not_found
    ├── Conflict                     409 conflict
    ├── PayloadTooLarge              413 payload_too_large
    ├── UnsupportedMediaType         415 unsupported_media_type
    ├── ValidationFailed             422 validation_failed (details list each field)
    ├── RateLimited                  429 rate_limited (+ Retry-After)
    ├── ProviderRejected             502 provider_rejected (a model provider refused a call)
    ├── DependencyUnavailable        503 dependency_unavailable (+ Retry-After)
    │   ├── CircuitOpen              503 circuit_open
    │   └── StoredFileCorrupt        503 stored_file_corrupt (read back short or changed)
    ├── DeadlineExceeded             504 deadline_exceeded
    └── InsufficientStorage          507 insufficient_storage (the disk is full; nothing kept)

The same codes travel over NATS request/reply (``code`` and ``message`` in the
error headers), so a remote failure becomes the same exception on the caller.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from pydantic import ValidationError


class RagapiError(Exception):
    """Base of every error a service answers on purpose."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"

    def __init__(
        self,
        message: str = "",
        *,
        details: Any = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message or self.code.replace("_", " "))
        self.message = message or self.code.replace("_", " ")
        self.details = details
        self.retry_after = retry_after

    def to_body(self) -> dict[str, Any]:
        """The contract's error body."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            error["details"] = self.details
        return {"error": error}

    def headers(self) -> dict[str, str]:
        """HTTP headers this error carries (``Retry-After`` when known)."""
        if self.retry_after is None:
            return {}
        return {"Retry-After": str(max(1, math.ceil(self.retry_after)))}


class BadRequest(RagapiError):
    status = 400
    code = "bad_request"


class Unauthorized(RagapiError):
    status = 401
    code = "unauthorized"


class NotFound(RagapiError):
    status = 404
    code = "not_found"


class Conflict(RagapiError):
    status = 409
    code = "conflict"


class PayloadTooLarge(RagapiError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(RagapiError):
    status = 415
    code = "unsupported_media_type"


class ValidationFailed(RagapiError):
    status = 422
    code = "validation_failed"

    @classmethod
    def from_pydantic(cls, error: ValidationError) -> ValidationFailed:
        """One detail per bad field: its dotted location and what is wrong."""
        details = [
            {
                "field": ".".join(str(part) for part in item["loc"]) or "body",
                "message": item["msg"],
                "type": item["type"],
            }
            for item in error.errors(include_url=False, include_context=False)
        ]
        return cls("the request has invalid fields", details=details)


class RateLimited(RagapiError):
    status = 429
    code = "rate_limited"


class ProviderRejected(RagapiError):
    """A model provider answered a 4xx other than 429: retrying cannot help."""

    status = 502
    code = "provider_rejected"


class DependencyUnavailable(RagapiError):
    status = 503
    code = "dependency_unavailable"


class CircuitOpen(DependencyUnavailable):
    code = "circuit_open"


class StoredFileCorrupt(DependencyUnavailable):
    """An object-store read did not give back the bytes written: short, or another SHA-256.

    Transient for the job that read it (a retry reads again); never a partial result.
    """

    code = "stored_file_corrupt"


class DeadlineExceeded(RagapiError):
    status = 504
    code = "deadline_exceeded"


class InsufficientStorage(RagapiError):
    """The server's disk is (nearly) full: the request was refused and nothing of it kept."""

    status = 507
    code = "insufficient_storage"


_BY_CODE: dict[str, type[RagapiError]] = {
    cls.code: cls
    for cls in (
        RagapiError,
        BadRequest,
        Unauthorized,
        NotFound,
        Conflict,
        PayloadTooLarge,
        UnsupportedMediaType,
        ValidationFailed,
        RateLimited,
        ProviderRejected,
        DependencyUnavailable,
        CircuitOpen,
        StoredFileCorrupt,
        DeadlineExceeded,
        InsufficientStorage,
    )
}


def from_code(code: str, message: str, details: Any = None) -> RagapiError:
    """Rebuild the exception a remote service raised from its code."""
    return _BY_CODE.get(code, RagapiError)(message, details=details)
