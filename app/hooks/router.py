from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse

from app.access.auth import CurrentPrincipal
from app.access.routes import Route, add_routes, param
from app.core.deps import ClientIP, SessionDep, SettingsDep
from app.core.pagination import PageDep
from app.hooks import schemas
from app.hooks.incoming import IncomingHooks
from app.hooks.models import Hook
from app.hooks.service import HookService

router = APIRouter()

HookId = Annotated[str, Path(max_length=64)]
TypeParam = Annotated[schemas.HookTypeParam, Path()]
PipelineId = Annotated[int, Path(ge=1, le=2**31 - 1)]
MAX_TRIGGER_BODY = 1024 * 1024


async def get_service(session: SessionDep, settings: SettingsDep) -> HookService:
    return HookService(session, settings)


Service = Annotated[HookService, Depends(get_service)]


async def get_incoming(session: SessionDep, settings: SettingsDep) -> IncomingHooks:
    return IncomingHooks(session, settings)


Incoming = Annotated[IncomingHooks, Depends(get_incoming)]


def _relation(service: HookService, hook: Hook) -> schemas.HookRelation:
    return schemas.HookRelation.model_validate(hook).model_copy(
        update={"url": service.trigger_url(hook)}
    )


def _detail(service: HookService, hook: Hook) -> schemas.Hook:
    relation = schemas.HookRelation.model_validate(hook).model_dump()
    detail = schemas.Hook.model_validate(
        {
            **relation,
            "url": service.trigger_url(hook),
            "secret": service.visible_secret(hook),
            "secret_algorithm": hook.secret_algorithm,
            "secret_header_name": hook.secret_header_name,
            "created_by_user": hook.created_by_user,
        }
    )
    # After validation: the shape masks configured header values for everyone.
    return detail.model_copy(
        update={"settings": service.visible_settings(hook, detail.settings)}
    )


@router.post(
    "/hooks/{hook_id}/trigger",
    operation_id="triggerHook",
    response_model=schemas.HookTriggerResponse,
    tags=["Hooks"],
)
async def trigger_hook(
    hook_id: HookId, request: Request, service: Incoming, ip: ClientIP
) -> JSONResponse:
    # No authentication: the unguessable URL (and the optional signature) is the key.
    raw = await request.body()
    outcome = await service.trigger(
        hook_id,
        ip=ip,
        url=str(request.url),
        headers=dict(request.headers),
        raw_body=raw[:MAX_TRIGGER_BODY],
    )
    # A JSON response, not an exception: the request record must commit with any answer.
    return JSONResponse(outcome.body, status_code=outcome.status_code, headers=outcome.headers)


async def get_hook(
    hook_type: TypeParam, hook_id: HookId, service: Service, principal: CurrentPrincipal
) -> schemas.Hook:
    return _detail(service, await service.get(principal, hook_type, hook_id))


async def get_hook_request(
    hook_request_id: HookId, service: Service, principal: CurrentPrincipal
) -> schemas.HookRequest:
    request = await service.get_request(principal, hook_request_id)
    body = schemas.HookRequest.model_validate(
        {
            **{k: getattr(request, k) for k in schemas.RequestRelation.model_fields},
            "request_headers": request.request_headers,
            "request_body": request.request_body,
            "response_headers": request.response_headers,
            "response_body": request.response_body,
            "hook": _relation(service, request.hook),
        }
    )
    return body


async def list_application_hooks(
    application_id: int, service: Service, principal: CurrentPrincipal, page: PageDep
) -> list[schemas.HookRelation]:
    return [_relation(service, h) for h in await service.list_for_application(
        principal, application_id, page
    )]


async def list_pipeline_hooks(
    pipeline_id: PipelineId, service: Service, principal: CurrentPrincipal, page: PageDep
) -> list[schemas.HookRelation]:
    return [_relation(service, h) for h in await service.list_for_pipeline(
        principal, pipeline_id, page
    )]


async def add_pipeline_hook(
    pipeline_id: PipelineId, hook_type: TypeParam, data: schemas.HookCreate, service: Service,
    principal: CurrentPrincipal, ip: ClientIP,
) -> schemas.Hook:
    return _detail(service, await service.create(principal, ip, pipeline_id, hook_type, data))


add_routes(router, Service, [
    Route("GET", "/hooks/{hook_type}/{hook_id}", "getHook", get_hook, schemas.Hook,
          tags=("Hooks",)),
    Route("PUT", "/hooks/{hook_type}/{hook_id}", "updateHook",
          lambda hook_type, hook_id, data, service, principal, ip:
              service.update(principal, ip, hook_type, hook_id, data), None, 204,
          schemas.HookUpdate, extra=(param("ip", ClientIP),), tags=("Hooks",)),
    Route("DELETE", "/hooks/{hook_type}/{hook_id}", "deleteHook",
          lambda hook_type, hook_id, service, principal, ip:
              service.delete(principal, ip, hook_type, hook_id), None, 204,
          extra=(param("ip", ClientIP),), tags=("Hooks",)),
    Route("GET", "/hooks/{hook_type}/{hook_id}/requests", "listHookRequestsByHookType",
          "list_requests", list[schemas.RequestRelation], paged=True, tags=("Hooks - Requests",),
          name="list_hook_requests"),
    Route("GET", "/hook-requests/{hook_request_id}", "getHookRequest", get_hook_request,
          schemas.HookRequest, tags=("Hook Requests",)),
    Route("GET", "/applications/{application_id:int}/hooks", "listApplicationHooks",
          list_application_hooks, list[schemas.HookRelation], paged=True,
          tags=("Applications - Hooks",)),
    Route("GET", "/pipelines/{pipeline_id:int}/hooks", "listPipelineHooks", list_pipeline_hooks,
          list[schemas.HookRelation], paged=True, tags=("Pipelines - Hooks",)),
    Route("POST", "/pipelines/{pipeline_id:int}/hooks/{hook_type}", "addPipelineHook",
          add_pipeline_hook, schemas.Hook, 201, schemas.HookCreate, extra=(param("ip", ClientIP),),
          tags=("Pipelines - Hooks",)),
], {
    "hook_type": TypeParam,
    "hook_id": HookId,
    "hook_request_id": HookId,
    "pipeline_id": PipelineId,
})
