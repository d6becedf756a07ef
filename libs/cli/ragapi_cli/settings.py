"""The CLI's settings: the common ones plus what only the command line needs."""

from __future__ import annotations

from pydantic import SecretStr

from ragapi_cli.loop import EventLoop
from ragapi_common.settings import CommonSettings


class SplitLocalStorage(RuntimeError):
    """``serve ingest|query`` with the ``local`` profile: the data would diverge."""


class CliSettings(CommonSettings):
    """``RAGAPI_URL`` and ``RAGAPI_TENANT_KEY`` for the client commands.

    ``RAGAPI_ALLOW_SPLIT_LOCAL=1`` lets ``ragapi serve ingest|query`` start with
    the ``local`` storage profile anyway: only for tests and for a single
    process that really is alone on its data directory.
    """

    service_name: str = "ragapi"
    url: str = "http://127.0.0.1:8000"
    tenant_key: SecretStr = SecretStr("")
    allow_split_local: bool = False
    #: The process's event loop (:mod:`ragapi_cli.loop`); ``asyncio`` for asyncio's debug mode.
    event_loop: EventLoop = "uvloop"

    def refuse_split_local(self, service: str) -> None:
        """Raise :class:`SplitLocalStorage` unless ``service`` may run alone here."""
        if self.storage_profile == "local" and not self.allow_split_local:
            raise SplitLocalStorage(
                f"the 'local' storage profile keeps LightRAG's data inside one process, so "
                f"'{service}' cannot run as a separate service with it: run everything with "
                f"'ragapi up', or set RAGAPI_STORAGE_PROFILE=postgres (with RAGAPI_POSTGRES_DSN) "
                f"for a split deployment"
            )

    def given(self, field: str) -> bool:
        """True when the environment (or a caller) set ``field`` explicitly."""
        return field in self.model_fields_set
