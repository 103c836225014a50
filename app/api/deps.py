"""Dependency aliases that hand routes what the lifespan built, one line per handler."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.runtime import Services
from app.settings import Settings
from state.store import Store


async def get_services(request: Request) -> Services:
    # async: resolved on the event loop, sparing async routes (/webhook) a thread hop.
    services: Services = request.app.state.services
    return services


def get_settings(services: Annotated[Services, Depends(get_services)]) -> Settings:
    return services.settings


def get_store(services: Annotated[Services, Depends(get_services)]) -> Store:
    return services.store


_bearer = HTTPBearer(auto_error=False)


async def require_token(
    services: Annotated[Services, Depends(get_services)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Refuse a missing or wrong bearer token; compared in constant time.

    ``async`` because it never blocks: FastAPI would otherwise run it in a worker thread.
    """
    expected = services.settings.api_token
    offered = credentials.credentials if credentials else ""
    if expected is None or not hmac.compare_digest(
        offered.encode(), expected.get_secret_value().encode()
    ):
        raise HTTPException(401, "missing or wrong bearer token")


ServicesDep = Annotated[Services, Depends(get_services)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[Store, Depends(get_store)]
Authorized = Depends(require_token)
