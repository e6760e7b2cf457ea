from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response

from app.access.auth import CurrentPrincipal
from app.access.routes import Route, add_routes, param
from app.core.deps import ClientIP, SessionDep, SettingsDep
from app.core.errors import NotFound, ValidationFailed, error_response
from app.credentials import catalogue, schemas
from app.credentials.forms import provider_settings
from app.credentials.service import CredentialService

router = APIRouter()

TAG = "Credentials"
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
ProviderCodePath = Annotated[str, Path(max_length=32)]
OrganizationKey = Annotated[str, Path(max_length=255)]
ProviderCodeQuery = Annotated[str | None, Query(max_length=32)]
ProviderTypeQuery = Annotated[str | None, Query(max_length=32)]
State = Annotated[str | None, Query(max_length=512)]


async def get_service(session: SessionDep, settings: SettingsDep) -> CredentialService:
    return CredentialService(session, settings)


Service = Annotated[CredentialService, Depends(get_service)]


def _setting(
    code: str, settings_body: dict[str, object], organization_id: int | None,
    environment_id: int | None = None,
) -> schemas.CredentialSetting:
    kind = catalogue.PROVIDERS[code].type
    return schemas.CredentialSetting(
        provider=schemas.CredentialProviderTypeOut(
            type=kind.value, type_human_readable=kind.human_readable
        ),
        # A personal project has no organization; 0 says so where the reference wants a number.
        organization_id=organization_id or 0,
        environment_id=environment_id,
        settings=settings_body,
    )


PROVIDER_FILTERS = (param("provider_code", ProviderCodeQuery, None),
                    param("provider_type", ProviderTypeQuery, None))


def _owned_credentials(
    owner: str, prefix: str, word: str, create: Callable[..., Awaitable[Any]]
) -> list[Route]:
    """The credentials of an environment or an organization: listed and added alike."""
    return [
        Route("GET", f"{prefix}/credentials", f"list{word}Credentials", f"list_for_{owner}",
              list[schemas.CredentialRelation], paged=True, extra=PROVIDER_FILTERS, tags=(TAG,)),
        Route("POST", f"{prefix}/credentials", f"add{word}Credential", create,
              schemas.Credential, 201, schemas.CredentialCreate, extra=(param("ip", ClientIP),),
              tags=(TAG,)),
    ]


async def get_environment_credential_settings(
    environment_id: Id, provider_code: ProviderCodePath, service: Service,
    principal: CurrentPrincipal, state: State = None,
) -> schemas.CredentialSetting:
    organization_id = await service.environment_organization(principal, environment_id)
    body = provider_settings(service.settings, provider_code, state)
    return _setting(provider_code, body, organization_id, environment_id)


async def get_organization_credential_settings(
    organization_id: OrganizationKey, provider_code: ProviderCodePath, service: Service,
    principal: CurrentPrincipal, state: State = None,
) -> schemas.CredentialSetting:
    organization = await service.organization(principal, organization_id)
    return _setting(provider_code, provider_settings(service.settings, provider_code, state),
                    organization)


async def get_status_credential(
    credential_id: Id, service: Service, principal: CurrentPrincipal, ip: ClientIP
) -> Response:
    result = await service.check_status(principal, ip, credential_id)
    if not result.ok:
        # Answered without raising, so the stored status of the check is committed too.
        return error_response(
            422, result.message, {"credential": [result.message]}
        )
    return Response(status_code=204)


add_routes(router, Service, [
    *_owned_credentials("environment", "/environments/{environment_id:int}", "Environment",
                        lambda environment_id, data, service, principal, ip:
                            service.create_for_environment(principal, ip, environment_id, data)),
    Route("POST", "/environments/{environment_id:int}/credentials/{credential_id:int}/link",
          "linkCredentialToEnvironment",
          lambda environment_id, credential_id, service, principal, ip:
              service.link(principal, ip, environment_id, credential_id), None, 204,
          extra=(param("ip", ClientIP),), tags=(TAG,), name="link_credential"),
    Route("DELETE", "/environments/{environment_id:int}/credentials/{credential_id:int}/unlink",
          "unlinkCredentialFromEnvironment",
          lambda environment_id, credential_id, service, principal, ip:
              service.unlink(principal, ip, environment_id, credential_id), None, 204,
          extra=(param("ip", ClientIP),), tags=(TAG,), name="unlink_credential"),
    Route("GET", "/environments/{environment_id:int}/credentials/{provider_code}/settings",
          "getEnvironmentCredentialSettings", get_environment_credential_settings,
          schemas.CredentialSetting, extra=(param("state", State, None),), tags=(TAG,)),
    *_owned_credentials("organization", "/organizations/{organization_id}", "Organization",
                        lambda organization_id, data, service, principal, ip:
                            service.create_for_organization(principal, ip, organization_id, data)),
    Route("GET", "/organizations/{organization_id}/credentials/{provider_code}/settings",
          "getOrganizationCredentialSettings", get_organization_credential_settings,
          schemas.CredentialSetting, extra=(param("state", State, None),), tags=(TAG,)),
    Route("GET", "/credentials/{credential_id:int}", "getCredential", "get", schemas.Credential,
          tags=(TAG,)),
    Route("PUT", "/credentials/{credential_id:int}", "updateCredential",
          lambda credential_id, data, service, principal, ip:
              service.update(principal, ip, credential_id, data), None, 204,
          schemas.CredentialUpdate, extra=(param("ip", ClientIP),), tags=(TAG,)),
    Route("DELETE", "/credentials/{credential_id:int}", "deleteCredential",
          lambda credential_id, service, principal, ip:
              service.delete(principal, ip, credential_id), None, 204,
          extra=(param("ip", ClientIP),), tags=(TAG,)),
    Route("POST", "/credentials/{credential_id:int}/get-status", "getStatusCredential",
          get_status_credential, None, 204, extra=(param("ip", ClientIP),), tags=(TAG,)),
    Route("GET", "/credentials/{credential_id:int}/repositories", "listCredentialRepositories",
          "repositories", list[schemas.RepositoryRelation], paged=True,
          tags=("Credentials - Repositories",)),
    Route("GET",
          "/credentials/{credential_id:int}/repositories/{repository_owner}/{repository_name}",
          "getCredentialRepository", "repository", schemas.Repository,
          tags=("Credentials - Repositories",)),
], {
    "environment_id": Id,
    "credential_id": Id,
    "provider_code": ProviderCodePath,
    "organization_id": OrganizationKey,
    "repository_owner": Annotated[str, Path(max_length=255)],
    "repository_name": Annotated[str, Path(max_length=255)],
})


@router.get("/oauth/{provider_code}/callback", tags=["OAuth"], operation_id="oauthCallback")
async def oauth_callback(
    provider_code: ProviderCodePath,
    code: Annotated[str | None, Query(max_length=512)] = None,
    state: State = None,
    error: Annotated[str | None, Query(max_length=255)] = None,
) -> dict[str, str | None]:
    """Where a source provider sends the browser back after OAuth (on PUBLIC_URL).

    This server has no web front end: the code is shown to be sent, within minutes, as
    `settings.credential.callback_code` (credentials) or `callback_code` (social accounts).
    """
    definition = catalogue.provider(provider_code)
    if definition is None or definition.type is not catalogue.ProviderType.SOURCE:
        raise NotFound("Provider not found.")
    if error or not code:
        raise ValidationFailed.field("code", f"{definition.name} did not authorize: {error}.")
    return {"provider": provider_code, "callback_code": code, "state": state}
