"""POST /oauth2/token (also /oauth2/refresh): the password and refresh-token grants.

Failures answer 400 ``{"error": "..."}`` as Secret Server does. Besides the server's configured
login, any organization user with a password, enabled and not locked out, may log in.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs

from simulator.routes.base import Result
from simulator.state import Organization
from simulator.tokens import TokenStore


def token(body: bytes, tokens: TokenStore, ttl_s: float, may_log_in: Callable[[str, str, str], bool]) -> Result:
    """Answer a token request (a form body) with new tokens or the documented 400."""
    form = {k.lower(): v[-1] for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()}
    grant = form.get("grant_type", "")
    if grant == "password":
        user_name = form.get("username", "")
        if not may_log_in(user_name, form.get("password", ""), form.get("domain", "")):
            return 400, {"error": "Login failed."}
        return 200, tokens.login(user_name, ttl_s)
    if grant == "refresh_token":
        grant_body = tokens.refresh(form.get("refresh_token", ""), ttl_s)
        if grant_body is None:
            return 400, {"error": "Invalid refresh token."}
        return 200, grant_body
    return 400, {"error": "unsupported_grant_type"}


def user_may_log_in(org: Organization, user_name: str, password: str, domain: str) -> bool:
    """Whether an organization user (generated, or created with a password) may log in with this password."""
    with org.lock:
        domain_id = None
        if domain:
            found = org.domain_id(domain)
            domain_id = -99 if found is None else found  # an unknown domain matches no one
        user = org.find_user(user_name, domain_id)
        return (user is not None and user.password is not None and user.password == password
                and user.enabled and not user.is_locked_out)
