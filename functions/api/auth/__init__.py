"""Who is calling the management API: a Codecosts API key or a Clerk session."""

from functions.api.auth.api_keys import ApiKeyAuthenticator
from functions.api.auth.clerk import ClerkSessionVerifier, SessionClaims
from functions.api.auth.principals import PrincipalResolver

__all__ = ["ApiKeyAuthenticator", "ClerkSessionVerifier", "PrincipalResolver", "SessionClaims"]
