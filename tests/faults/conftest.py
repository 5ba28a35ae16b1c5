"""Fixtures for fault tests: a PostgreSQL of the test's own, and the fake Discord."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bench.harness.pg_cluster import Cluster
from tests.fake_discord import FakeDiscord


@pytest.fixture
async def cluster() -> AsyncIterator[Cluster]:
    made = await asyncio.to_thread(Cluster().init)
    await asyncio.to_thread(made.start)
    try:
        yield made
    finally:
        await asyncio.to_thread(made.destroy)  # thaws first, so nothing stays frozen


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as fake:
        yield fake
