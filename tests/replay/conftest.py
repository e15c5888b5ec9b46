"""Fixtures for the replay destinations' tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.replay.server import SegmentServer


@pytest.fixture
def segment_server() -> Iterator[SegmentServer]:
    """A fresh Segment-compatible API on 127.0.0.1 (see tests/replay/server.py), stopped afterwards."""
    with SegmentServer() as server:
        yield server
