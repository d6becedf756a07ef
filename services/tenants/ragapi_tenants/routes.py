"""HTTP endpoints of the tenants API (admin token only)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ragapi_common.auth import require_admin
from ragapi_common.errors import (
    BadRequest,
    Conflict,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
    ValidationFailed,
)
from ragapi_common.openapi import OpenApi, path_param
from ragapi_common.web import Slot, read_json

from .models import (
    KeyCreated,
    KeyList,
    Tenant,
    TenantCreate,
    TenantCreated,
    TenantList,
    TenantPatch,
)
from .service import Tenants

Handler = Callable[[Request], Awaitable[Response]]


def _json(model: BaseModel, status: int = 200) -> JSONResponse:
    return JSONResponse(model.model_dump(mode="json", exclude_none=True), status_code=status)


class TenantRoutes:
    """Routes bound to the service object the lifespan creates."""

    def __init__(self, admin_token: str, tenants: Slot[Tenants], *, body_limit: int) -> None:
        self.admin_token = admin_token
        self.tenants = tenants
        self.body_limit = body_limit

    def _admin(self, request: Request) -> Tenants:
        require_admin(request, self.admin_token)
        return self.tenants.value

    async def create(self, request: Request) -> Response:
        tenants = self._admin(request)
        body = await read_json(request, TenantCreate, limit=self.body_limit)
        return _json(await tenants.create(body), 201)

    async def list_tenants(self, request: Request) -> Response:
        return _json(TenantList(tenants=await self._admin(request).all()))

    async def get(self, request: Request) -> Response:
        return _json(await self._admin(request).get(request.path_params["tenant_id"]))

    async def patch(self, request: Request) -> Response:
        tenants = self._admin(request)
        body = await read_json(request, TenantPatch, limit=self.body_limit)
        return _json(await tenants.patch(request.path_params["tenant_id"], body))

    async def delete(self, request: Request) -> Response:
        await self._admin(request).delete(request.path_params["tenant_id"])
        return JSONResponse({"status": "deleting"}, status_code=202)

    async def create_key(self, request: Request) -> Response:
        tenants = self._admin(request)
        return _json(await tenants.create_key(request.path_params["tenant_id"]), 201)

    async def list_keys(self, request: Request) -> Response:
        keys = await self._admin(request).list_keys(request.path_params["tenant_id"])
        return _json(KeyList(keys=keys))

    async def revoke_key(self, request: Request) -> Response:
        params = request.path_params
        await self._admin(request).revoke_key(params["tenant_id"], params["key_id"])
        return Response(status_code=204)

    def routes(self) -> list[Route]:
        one, keys = "/v1/tenants/{tenant_id}", "/v1/tenants/{tenant_id}/keys"
        return [
            Route("/v1/tenants", self.create, methods=["POST"]),
            Route("/v1/tenants", self.list_tenants, methods=["GET"]),
            Route(one, self.get, methods=["GET"]),
            Route(one, self.patch, methods=["PATCH"]),
            Route(one, self.delete, methods=["DELETE"]),
            Route(keys, self.create_key, methods=["POST"]),
            Route(keys, self.list_keys, methods=["GET"]),
            Route(keys + "/{key_id}", self.revoke_key, methods=["DELETE"]),
        ]


def openapi() -> OpenApi:
    spec = OpenApi("ragapi tenants")
    tid, kid = path_param("tenant_id"), path_param("key_id")
    auth = (Unauthorized,)
    add = spec.operation
    add(
        "POST",
        "/v1/tenants",
        "Create a tenant and its first API key",
        tag="tenants",
        body=TenantCreate,
        ok=(201, TenantCreated),
        errors=(BadRequest, Unauthorized, Conflict, PayloadTooLarge, ValidationFailed),
    )
    add("GET", "/v1/tenants", "List tenants", tag="tenants", ok=(200, TenantList), errors=auth)
    add(
        "GET",
        "/v1/tenants/{tenant_id}",
        "Get a tenant",
        tag="tenants",
        ok=(200, Tenant),
        errors=(Unauthorized, NotFound),
        parameters=[tid],
    )
    add(
        "PATCH",
        "/v1/tenants/{tenant_id}",
        "Change name or config (deep merge)",
        tag="tenants",
        body=TenantPatch,
        ok=(200, Tenant),
        errors=(BadRequest, Unauthorized, NotFound, PayloadTooLarge, ValidationFailed),
        parameters=[tid],
    )
    add(
        "DELETE",
        "/v1/tenants/{tenant_id}",
        "Delete a tenant and purge its data",
        tag="tenants",
        ok=(202, None),
        errors=(Unauthorized, NotFound),
        parameters=[tid],
    )
    add(
        "POST",
        "/v1/tenants/{tenant_id}/keys",
        "Create an API key",
        tag="keys",
        ok=(201, KeyCreated),
        errors=(Unauthorized, NotFound, Conflict),
        parameters=[tid],
    )
    add(
        "GET",
        "/v1/tenants/{tenant_id}/keys",
        "List API keys",
        tag="keys",
        ok=(200, KeyList),
        errors=(Unauthorized, NotFound),
        parameters=[tid],
    )
    add(
        "DELETE",
        "/v1/tenants/{tenant_id}/keys/{key_id}",
        "Revoke an API key",
        tag="keys",
        ok=(204, None),
        errors=(Unauthorized, NotFound),
        parameters=[tid, kid],
    )
    return spec
