"""Tests of localsvc.model.satoken: service-account tokens minted and verified per environment."""

from __future__ import annotations

import base64
import json

from localsvc.model.satoken import (
    AUDIENCE,
    ISSUER,
    TokenSubject,
    claims_of,
    mint,
    signing_key,
    verify,
)

SUBJECT = TokenSubject("shop", "builder", "sa-uid", "web-1", "pod-uid")


def _part(token: str, index: int) -> dict[str, object]:
    text = token.split(".")[index]
    return dict(json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))))


def test_a_minted_token_verifies_with_its_environments_key() -> None:
    key = signing_key("environment-a-secret")
    assert verify(key, mint(key, SUBJECT, 1_700_000_000)) == SUBJECT


def test_a_token_of_another_environment_is_refused() -> None:
    token = mint(signing_key("environment-a-secret"), SUBJECT, 1_700_000_000)
    assert verify(signing_key("environment-b-secret"), token) is None


def test_the_key_is_not_the_environment_token_itself() -> None:
    assert signing_key("secret") != b"secret" and len(signing_key("secret")) == 32


def test_claims_are_those_of_a_projected_token() -> None:
    token = mint(signing_key("s"), SUBJECT, 1_700_000_000)
    assert _part(token, 0) == {"alg": "HS256", "typ": "JWT"}
    claims = _part(token, 1)
    assert claims == claims_of(SUBJECT, 1_700_000_000)
    assert claims["iss"] == ISSUER and claims["aud"] == [AUDIENCE]
    assert claims["sub"] == "system:serviceaccount:shop:builder"
    assert claims["kubernetes.io"] == {
        "namespace": "shop", "serviceaccount": {"name": "builder", "uid": "sa-uid"},
        "pod": {"name": "web-1", "uid": "pod-uid"}}
    assert "exp" not in claims  # lives as long as the environment's secret


def test_minting_is_deterministic() -> None:
    key = signing_key("s")
    assert mint(key, SUBJECT, 5) == mint(key, SUBJECT, 5) != mint(key, SUBJECT, 6)


def _forged(claims: dict[str, object], key: bytes, alg: str = "HS256") -> str:
    import hashlib
    import hmac

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    body = b64(json.dumps(claims).encode())
    sig = hmac.new(key, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(sig)}"


def test_tampered_or_malformed_tokens_are_refused() -> None:
    key = signing_key("s")
    token = mint(key, SUBJECT, 5)
    head, body, sig = token.split(".")
    other_body = mint(key, TokenSubject("kube-system", "admin"), 5).split(".")[1]
    assert verify(key, f"{head}.{other_body}.{sig}") is None
    for bad in ["", "a.b", "a.b.c.d", "!!.!!.!!", token + "x", f"{head}.{body}."]:
        assert verify(key, bad) is None


def test_signed_but_wrong_claims_are_refused() -> None:
    key = signing_key("s")
    good = claims_of(SUBJECT, 5)
    assert verify(key, _forged(good, key)) == SUBJECT
    assert verify(key, _forged(good, key, alg="none")) is None
    assert verify(key, _forged({**good, "iss": "https://elsewhere"}, key)) is None
    assert verify(key, _forged({**good, "aud": ["vault"]}, key)) is None
    assert verify(key, _forged({**good, "sub": "system:node:x"}, key)) is None
    mismatched = {**good, "kubernetes.io": {**good["kubernetes.io"], "namespace": "other"}}
    assert verify(key, _forged(mismatched, key)) is None
    assert verify(key, _forged([1, 2], key)) is None  # type: ignore[arg-type]
