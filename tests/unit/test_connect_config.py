"""DuckDB's memory cap comes from ICW_DUCKDB_MEMORY_LIMIT, and a bad value is named."""

from __future__ import annotations

import pytest

from orchestration.core.settings import DEFAULT_MEMORY_LIMIT
from orchestration.core.warehouse import connect_config


def test_the_cap_defaults_and_can_be_raised(monkeypatch):
    monkeypatch.delenv("ICW_DUCKDB_MEMORY_LIMIT", raising=False)
    assert connect_config()["memory_limit"] == DEFAULT_MEMORY_LIMIT
    monkeypatch.setenv("ICW_DUCKDB_MEMORY_LIMIT", "4GB")
    assert connect_config()["memory_limit"] == "4GB"


def test_a_value_duckdb_cannot_read_names_the_variable(monkeypatch):
    monkeypatch.setenv("ICW_DUCKDB_MEMORY_LIMIT", "lots")
    with pytest.raises(ValueError, match=r"ICW_DUCKDB_MEMORY_LIMIT='lots' is not a size"):
        connect_config()
