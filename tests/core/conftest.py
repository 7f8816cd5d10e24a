"""Fixtures shared by the core tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from scrubline.core.models import Registry, load_registry
from tests import tiny_models


@pytest.fixture
def tiny_registry(tmp_path: Path) -> Registry:
    """Only the tiny dense segmenter (dark pixels are instrument, red pixels blood)."""
    return load_registry([tiny_models.segmenter_folder(tmp_path / "models")], include_bundled=False)
