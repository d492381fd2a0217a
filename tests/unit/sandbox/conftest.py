"""The sandbox tests make real namespaces and may break them on purpose (namespace.py keeps
both per process): each test starts with none, and leaves none behind."""

from __future__ import annotations

import pytest

from pixir.sandbox import namespace


@pytest.fixture(autouse=True)
def fresh_namespaces(monkeypatch):
    monkeypatch.setattr(namespace, "_made", {})
    monkeypatch.setattr(namespace, "_broken", "")
    yield
    for made in namespace._made.values():
        made.close()
