"""OAuth2 for the emulator: the token endpoint and Bearer-token checks.

The token endpoint implements the two grants google-auth uses:

* ``urn:ietf:params:oauth:grant-type:jwt-bearer`` (service accounts): the RS256 signature
  of the assertion is verified against the public key registered with
  ``state.register_service_account(email, public_key_pem)``.
* ``refresh_token`` (OAuth user tokens, gspread's ``oauth()``): the refresh token must
  have been registered with ``state.register_refresh_token(token, email)``.

With ``state.accept_any_token`` (the standalone default) assertions from accounts that were
never registered, and any refresh token, are accepted without verification, so an integrator can
try a config with any service-account JSON. Errors use Google's OAuth error bodies
(``{"error": "invalid_grant", ...}``, HTTP 400).
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any
from urllib.parse import parse_qs

from .errors import INVALID_CREDENTIALS, MISSING_CREDENTIALS, ApiError
from .state import EmulatorState

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
MAX_LIFETIME = 3600


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _grant_error(description: str, error: str = "invalid_grant") -> tuple[int, dict[str, Any]]:
    return 400, {"error": error, "error_description": description}


def verify_jwt(state: EmulatorState, assertion: str) -> tuple[str | None, dict[str, Any] | str]:
    """Return (email, claims) when the JWT is signed by a registered key, else (None, reason)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    try:
        head_b64, payload_b64, sig_b64 = assertion.split(".")
        header = json.loads(_b64decode(head_b64))
        claims = json.loads(_b64decode(payload_b64))
        signature = _b64decode(sig_b64)
    except (ValueError, TypeError):
        return None, "Invalid JWT: could not decode the assertion."
    if header.get("alg") != "RS256":
        return None, f"Invalid JWT: unsupported algorithm {header.get('alg')!r}."
    email = claims.get("iss") or ""
    account = state.service_accounts.get(email)
    if account is None:
        if state.accept_any_token and email:
            return email, claims  # standalone mode: unknown accounts are trusted unverified
        return None, "Invalid grant: account not found"
    try:
        key = serialization.load_pem_public_key(account.public_key_pem)
        key.verify(signature, f"{head_b64}.{payload_b64}".encode(), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError, TypeError):
        return None, "Invalid JWT Signature."
    now = time.time()
    iat, exp = claims.get("iat"), claims.get("exp")
    if not isinstance(iat, (int, float)) or not isinstance(exp, (int, float)) or \
            exp - iat > MAX_LIFETIME or exp < now - 300 or iat > now + 300:
        return None, ("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable "
                      "timeframe. Check your iat and exp values in the JWT claim.")
    return email, claims


def token_endpoint(state: EmulatorState, body: bytes, content_type: str) -> tuple[int, dict[str, Any]]:
    """POST /token: exchange a signed JWT (or a refresh token) for a Bearer access token."""
    state.token_requests += 1
    if "json" in content_type:
        try:
            form = {k: str(v) for k, v in json.loads(body or b"{}").items()}
        except ValueError:
            return _grant_error("Invalid JSON payload", "invalid_request")
    else:
        form = {k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
    grant = form.get("grant_type")
    if grant == JWT_GRANT:
        email, claims = verify_jwt(state, form.get("assertion", ""))
        if email is None:
            return _grant_error(str(claims))
        audience = str(claims.get("aud", ""))  # type: ignore[union-attr]
        if not audience.endswith("/token"):
            return _grant_error("Invalid JWT: Failed audience check.")
        token = state.issue_token(email, MAX_LIFETIME)
        return 200, {"access_token": token, "expires_in": MAX_LIFETIME - 1, "token_type": "Bearer"}
    if grant == "refresh_token":
        email = state.refresh_tokens.get(form.get("refresh_token", ""))
        if email is None and state.accept_any_token and form.get("refresh_token"):
            email = "oauth-user@example.com"
        if email is None:
            return _grant_error("Token has been expired or revoked.")
        token = state.issue_token(email, MAX_LIFETIME)
        return 200, {"access_token": token, "expires_in": MAX_LIFETIME - 1, "token_type": "Bearer",
                     "scope": form.get("scope", "https://www.googleapis.com/auth/spreadsheets")}
    return _grant_error(f"Invalid grant_type: {grant}", "unsupported_grant_type")


def caller(state: EmulatorState, authorization: str | None) -> str | None:
    """The e-mail behind an ``Authorization`` header; raise Google's 401 when it is not valid.

    With ``state.accept_any_token`` any Bearer token is accepted (the caller is then
    anonymous, unless the token is one the emulator issued).
    """
    token = ""
    if authorization and authorization.lower().startswith("bearer "):
        token = authorization[7:].strip()
    if not token:
        if state.accept_any_token:
            return None
        raise ApiError(401, MISSING_CREDENTIALS, headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'})
    ok, email = state.email_for_token(token)
    if ok:
        return email
    if token.count(".") == 2:  # a self-signed JWT access token (google-auth's jwt access)
        email, _ = verify_jwt(state, token)
        if email is not None:
            return email
    if state.accept_any_token:
        return None
    raise ApiError(401, INVALID_CREDENTIALS, headers={
        "WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", error="invalid_token"'})


def new_key_pair() -> tuple[str, str]:
    """A fresh RSA key pair as PEM text, (private PKCS#8, public SubjectPublicKeyInfo), for a
    service account the emulator is told to trust."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


def service_account_info(email: str, private_pem: str, token_uri: str) -> dict[str, Any]:
    """A service-account key file's content, as Google issues it, pointing at ``token_uri``."""
    return {"type": "service_account", "project_id": "emulator", "private_key_id": "emulator-1",
            "private_key": private_pem, "client_email": email, "client_id": "0", "token_uri": token_uri}
