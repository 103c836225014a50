"""``POST /admin/reset-posted``: forget what was posted, answering with what was forgotten.

The body must be exactly ``{"confirm": "RESET"}``; anything else is 422 and nothing
changes. The reply is the export of the cleared state, so it can be imported back.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from app.api.deps import Authorized, ServicesDep
from app.services.selection import SelectionService, export_json

router = APIRouter(tags=["admin"], dependencies=[Authorized])


class ResetBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    confirm: Literal["RESET"]


@router.post("/admin/reset-posted")
def reset_posted(body: ResetBody, services: ServicesDep) -> dict[str, list[str]]:
    return export_json(SelectionService.from_services(services).reset_posted())
