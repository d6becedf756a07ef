"""The four service apps: where each lives, the paths it owns, and how to build it.

Services are imported lazily so that a process running one service never
imports the others (nor their heavy dependencies).
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette

from ragapi_common.metrics import Metrics
from ragapi_common.rag.api import RagRegistry
from ragapi_common.settings import CommonSettings
from ragapi_common.shutdown import Shutdown

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceSpec:
    """One service: its package, settings class, URL prefixes, whether it uses LightRAG and
    whether it runs job workers (which stop on the process's shutdown clock)."""

    name: str
    package: str
    settings_class: str
    prefixes: tuple[str, ...]
    uses_rag: bool = False
    runs_workers: bool = False

    def settings(self, **overrides: Any) -> CommonSettings:
        """The service's settings from the environment, ``overrides`` winning."""
        module = importlib.import_module(f"{self.package}.settings")
        cls: type[CommonSettings] = getattr(module, self.settings_class)
        return cls(**overrides)

    def create_app(
        self,
        settings: CommonSettings,
        *,
        metrics: Metrics,
        rag: RagRegistry | None,
        shutdown: Shutdown,
    ) -> Starlette:
        module = importlib.import_module(f"{self.package}.app")
        extras: dict[str, Any] = {"rag": rag} if self.uses_rag else {}
        if self.runs_workers:
            extras["shutdown"] = shutdown
        app: Starlette = module.create_app(settings, metrics=metrics, **extras)
        return app


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("tenants", "ragapi_tenants", "TenantsSettings", ("/v1/tenants",)),
    ServiceSpec(
        "ingest",
        "ragapi_ingest",
        "IngestSettings",
        ("/v1/documents", "/v1/tasks"),
        uses_rag=True,
        runs_workers=True,
    ),
    ServiceSpec("ocr", "ragapi_ocr", "OcrSettings", ("/v1/ocr",), runs_workers=True),
    ServiceSpec(
        "query",
        "ragapi_query",
        "QuerySettings",
        ("/v1/query", "/v1/chat/completions", "/v1/models", "/v1/graph", "/console"),
        uses_rag=True,
    ),
)
SERVICE_NAMES = tuple(spec.name for spec in SERVICES)


def spec_of(name: str) -> ServiceSpec:
    for spec in SERVICES:
        if spec.name == name:
            return spec
    raise KeyError(name)


def import_service(spec: ServiceSpec) -> None:
    """Import the service's modules (and LightRAG's adapter if it uses it); ImportError if not."""
    importlib.import_module(f"{spec.package}.app")
    importlib.import_module(f"{spec.package}.settings")
    if spec.uses_rag:
        importlib.import_module("ragapi_common.rag.registry")


def open_rag_registry(settings: CommonSettings, metrics: Metrics) -> RagRegistry:
    """The process's LightRAG registry (imported here: only ingest and query need it)."""
    from ragapi_common.rag.registry import open_registry

    return open_registry(settings, metrics=metrics)
