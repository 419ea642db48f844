"""Shared test fixtures: paths of the repository and of the reference material beside it."""
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NBS = REPO / "nbs"
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared() -> Path:
    "The reference material (SMAP data, golden metric outputs) that CI checks out beside the repository."
    if not SHARED.exists():
        raise FileNotFoundError(f"{SHARED} not found: these tests need the reference material checked out beside the "
                                "repository")
    return SHARED
