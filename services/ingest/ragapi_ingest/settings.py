"""The ingest service's settings (``RAGAPI_*`` env), on top of the common ones."""

from __future__ import annotations

from pydantic import Field

from ragapi_common.settings import CommonSettings


class IngestSettings(CommonSettings):
    """Limits of the upload path and the sizes of the worker pools."""

    service_name: str = "ingest"

    # Upload path: bytes read from the socket per step, and written per aiofiles call.
    upload_chunk_bytes: int = Field(default=256 * 1024, ge=4096)
    #: Multipart framing allowed on top of ``max_upload_bytes`` before a body is too large.
    multipart_overhead_bytes: int = Field(default=1024 * 1024, ge=0)
    max_files_per_request: int = Field(default=100, ge=1)
    max_filename_chars: int = Field(default=255, ge=16)
    max_metadata_bytes: int = Field(default=64 * 1024, ge=0)

    #: Uploads are refused (507) while the data directory's filesystem would keep less free
    #: than this after them: NATS's store and Redis's files fail badly on a full disk.
    disk_reserve_bytes: int = Field(default=100 * 1024 * 1024, ge=0)

    # Text path.
    max_text_bytes: int = Field(default=1024 * 1024, ge=1)
    #: A text request's JSON body; the tenant's ``max_upload_bytes`` caps it too, if smaller.
    max_text_request_bytes: int = Field(default=32 * 1024 * 1024, ge=1)
    max_texts_per_request: int = Field(default=1000, ge=1)
    #: Decoded texts longer than this travel to the index queue through the object store.
    inline_text_bytes: int = Field(default=64 * 1024, ge=1)

    # Workers.
    run_workers: bool = True
    ingest_concurrency: int = Field(default=4, ge=1)
    index_concurrency: int = Field(default=32, ge=1)
    delete_concurrency: int = Field(default=2, ge=1)
    purge_concurrency: int = Field(default=1, ge=1)
    #: Inserts running at once in this process, all tenants together.
    index_total_limit: int = Field(default=32, ge=1)
    # ``index_tenant_limit`` (common): inserts running at once for one tenant, inside the total.
    #: Jobs of one tenant allowed to wait for its slots before the rest go back to the queue.
    index_tenant_backlog: int = Field(default=8, ge=0)
    #: How long a saturated tenant's job waits for a slot before it is requeued at the tail.
    index_defer_after_s: float = Field(default=2.0, gt=0)
    #: Lease of the per-tenant writer lock in Redis (renewed while held).
    tenant_lock_ttl_s: float = Field(default=30.0, gt=1)
    max_deliver: int = Field(default=6, ge=1)
    job_backoff_s: tuple[float, ...] = (1.0, 2.0, 5.0, 15.0, 30.0)
    index_ack_wait_s: float = Field(default=120.0, gt=1)
    #: While a document indexes, its ``progress`` (LightRAG's chunk count) is refreshed this often.
    index_progress_interval_s: float = Field(default=10.0, gt=0)

    #: A ``queued`` document this old whose job was never published is queued again.
    recovery_after_s: float = Field(default=60.0, gt=0)
    recovery_interval_s: float = Field(default=60.0, gt=0)

    # Listing.
    max_list_limit: int = Field(default=500, ge=1)
    #: The task event stream re-reads the records this often (events are fire-and-forget).
    task_stream_refresh_s: float = Field(default=5.0, gt=0)
