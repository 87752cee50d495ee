"""The calling user's profile (a user's, not the tenant's: an organization has many users)."""

from __future__ import annotations

from fastapi import APIRouter

from functions.api.deps import Audit, CurrentPrincipal, Users
from functions.api.schemas import NameBody, Profile

router = APIRouter(prefix="/profile", tags=["profile"])


@router.get("", response_model=Profile)
def get_profile(principal: CurrentPrincipal, users: Users) -> Profile:
    # A user known only by an API key (say, the local stack's bootstrap user) gets a profile now.
    return Profile.model_validate(users.ensure(principal.user_id, None, None))


@router.put("", response_model=Profile)
def update_profile(body: NameBody, principal: CurrentPrincipal, users: Users, audit: Audit) -> Profile:
    users.ensure(principal.user_id, None, None)
    profile = users.update_name(principal.user_id, body.name)
    audit.record(principal, "profile.updated", "user", principal.user_id, {"name": body.name})
    return Profile.model_validate(profile)
