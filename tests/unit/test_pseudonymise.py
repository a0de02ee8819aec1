"""person_id is HMAC-SHA256 of the upper-case CRN under the key, in lower-case hex."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from orchestration.core.settings import Settings
from orchestration.ingestion.pseudonymise import person_id, person_ids

pytestmark = pytest.mark.unit


def test_matches_an_independent_hmac():
    expected = hmac.new(b"secret", b"A123456", hashlib.sha256).hexdigest()
    assert person_id("A123456", "secret") == expected
    assert person_id("a123456", "secret") == expected  # upper-cased before hashing


def test_known_value():
    # printf 'A123456' | openssl dgst -sha256 -hmac secret
    assert person_id("A123456", "secret") == (
        "a01d1aa08dc6bf020be599004f680f0fc817773ee3e7205951d1ea9a2d1d8dd2"
    )


def test_a_different_key_gives_a_different_id():
    assert person_id("A123456", "k1") != person_id("A123456", "k2")


def test_distinct_crns_are_hashed_once_each():
    ids = person_ids(["A123456", "A123456", "B000001"], "k")
    assert ids == {"A123456": person_id("A123456", "k"), "B000001": person_id("B000001", "k")}


def test_without_a_key_the_demo_key_is_used_and_said_loudly():
    settings = Settings.from_env({"ICW_HOME": "/tmp/x"})
    assert settings.uses_demo_key
    with pytest.warns(UserWarning, match="DEMO key"):
        assert "DEMO" in settings.warn_if_demo_key()
    keyed = Settings.from_env({"ICW_HOME": "/tmp/x", "ICW_PSEUDONYMISATION_KEY": "s3cret"})
    assert not keyed.uses_demo_key and keyed.warn_if_demo_key() is None
