"""A small OpenAPI 3.1 builder fed by the pydantic models the handlers really use."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from ragapi_common.errors import RagapiError

_REF = "#/components/schemas/{model}"
_ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {},
            },
        }
    },
}


class OpenApi:
    """Collects operations; :meth:`document` answers the ``/openapi.json`` body."""

    def __init__(self, title: str, version: str = "1.0.0", *, security: str = "bearer") -> None:
        self.title = title
        self.version = version
        self.security = security
        self.paths: dict[str, dict[str, Any]] = {}
        self.schemas: dict[str, Any] = {"Error": _ERROR_SCHEMA}

    def _schema(self, model: type[BaseModel]) -> dict[str, Any]:
        schema = model.model_json_schema(ref_template=_REF)
        for name, sub in schema.pop("$defs", {}).items():
            self.schemas[name] = sub
        self.schemas[model.__name__] = schema
        return {"$ref": _REF.format(model=model.__name__)}

    def operation(
        self,
        method: str,
        path: str,
        summary: str,
        *,
        tag: str,
        body: type[BaseModel] | None = None,
        body_media: str = "application/json",
        ok: tuple[int, type[BaseModel] | None] = (200, None),
        ok_media: str = "application/json",
        errors: tuple[type[RagapiError], ...] = (),
        parameters: list[dict[str, Any]] | None = None,
    ) -> None:
        """Describe one operation; ``errors`` are the contract errors it may answer."""
        status, model = ok
        content = {ok_media: {"schema": self._schema(model)}} if model else {}
        responses: dict[str, Any] = {str(status): {"description": "success", "content": content}}
        for error in errors:
            responses[str(error.status)] = {
                "description": error.code,
                "content": {"application/json": {"schema": {"$ref": _REF.format(model="Error")}}},
            }
        op: dict[str, Any] = {"summary": summary, "tags": [tag], "responses": responses}
        if body is not None:
            op["requestBody"] = {
                "required": True,
                "content": {body_media: {"schema": self._schema(body)}},
            }
        if parameters:
            op["parameters"] = parameters
        op["security"] = [{self.security: []}]
        self.paths.setdefault(path, {})[method.lower()] = op

    def document(self) -> dict[str, Any]:
        return {
            "openapi": "3.1.0",
            "info": {"title": self.title, "version": self.version},
            "paths": self.paths,
            "components": {
                "schemas": self.schemas,
                "securitySchemes": {self.security: {"type": "http", "scheme": "bearer"}},
            },
        }


def query_param(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


def path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def merge(title: str, documents: list[dict[str, Any]]) -> dict[str, Any]:
    """One document for the gateway: the union of every service's paths and schemas."""
    merged: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "1.0.0"},
        "paths": {},
        "components": {"schemas": {}, "securitySchemes": {}},
    }
    for doc in documents:
        for path, ops in doc.get("paths", {}).items():
            merged["paths"].setdefault(path, {}).update(ops)
        components = doc.get("components", {})
        merged["components"]["schemas"].update(components.get("schemas", {}))
        merged["components"]["securitySchemes"].update(components.get("securitySchemes", {}))
    return merged
