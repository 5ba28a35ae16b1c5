"""GET /metrics on the running service: what it counts after appends, requests by route and
status, the histograms' buckets, the gauges read at scrape time, Discord's delivery, and who may
read it. The exposition is parsed with prometheus_client's own parser."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import asyncpg
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from bot.credentials import Credentials
from bot.runtime import Service
from bot.settings import Settings
from tests.fake_discord import FakeDiscord

from ..conftest import OPERATOR_TOKEN, TEST_CREDENTIALS, FakeClock
from .discord_harness import running_rig

REPO = "acme/app"
AGENT_TOKEN = "agent-dev-e-1-0123456789abcdef"


class Scraped:
    def __init__(self, text: str) -> None:
        self.samples: list[Sample] = [s for family in text_string_to_metric_families(text) for s in family.samples]

    def value(self, name: str, **labels: str) -> float:
        found = [s.value for s in self.samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]
        assert len(found) == 1, f"{name}{labels}: {found}"
        return found[0]

    def names(self) -> set[str]:
        return {s.name for s in self.samples}

    def buckets(self, name: str) -> list[tuple[str, float]]:
        return [(s.labels["le"], s.value) for s in self.samples if s.name == f"{name}_bucket"]


async def scrape(http: aiohttp.ClientSession, url: str, **headers: str) -> Scraped:
    async with http.get(f"{url}/metrics", headers=headers) as resp:
        assert resp.status == 200, await resp.text()
        assert resp.content_type == "text/plain"
        return Scraped(await resp.text())


@pytest.fixture
async def served(db: asyncpg.Pool, pg_server_dsn: str) -> AsyncIterator[tuple[Service, aiohttp.ClientSession, str]]:
    settings = Settings(host="127.0.0.1", port=0, credentials=TEST_CREDENTIALS)
    async with Service(settings, dsn=pg_server_dsn) as service, aiohttp.ClientSession() as http:
        yield service, http, f"http://127.0.0.1:{service.port}"


async def post(http: aiohttp.ClientSession, url: str, body: dict[str, Any], status: int = 201) -> None:
    async with http.post(f"{url}/api/events", json=body) as resp:
        assert resp.status == status, await resp.text()


async def test_appends_are_counted_by_type_with_their_latency_and_batches(
        served: tuple[Service, aiohttp.ClientSession, str]) -> None:
    _, http, url = served
    await asyncio.gather(*(post(http, url, {"type": "HEARTBEAT", "agentId": f"dev-e-{i}"}) for i in range(5)))
    # PascalCase, as the memory server sends it
    await post(http, url, {"Type": "MEMORY_WRITE", "AgentId": "dev-e-1", "Repo": "", "IssueNumber": 0})
    metrics = await scrape(http, url)
    assert metrics.value("conductor_e_events_appended_total", type="HEARTBEAT") == 5
    assert metrics.value("conductor_e_events_appended_total", type="MEMORY_WRITE") == 1
    assert metrics.value("conductor_e_events_appended_total", type="ISSUE_DONE") == 0  # every type, from the start
    # One observation per transaction; every append in one of them.
    batches = metrics.value("conductor_e_append_batch_size_count")
    assert 1 <= batches <= 6 and metrics.value("conductor_e_append_batch_size_sum") == 6
    assert metrics.value("conductor_e_append_latency_seconds_count") == batches
    assert metrics.value("conductor_e_append_batch_seconds_count") == batches
    buckets = metrics.buckets("conductor_e_append_latency_seconds")
    assert [le for le, _ in buckets][-1] == "+Inf" and "0.005" in dict(buckets)
    assert buckets[-1][1] == batches and [n for _, n in buckets] == sorted(n for _, n in buckets)  # cumulative
    assert [le for le, _ in metrics.buckets("conductor_e_append_batch_size")][:3] == ["1.0", "2.0", "4.0"]


async def test_requests_are_counted_by_route_method_and_status(
        served: tuple[Service, aiohttp.ClientSession, str]) -> None:
    _, http, url = served
    await post(http, url, {"type": "HEARTBEAT", "agentId": "dev-e-1"})
    await post(http, url, {"type": "ISSUE_APPROVED", "repo": REPO}, status=422)  # no issueNumber
    for path, status in (("/api/agents/dev-e-1", 200), ("/api/agents/nobody", 404), ("/api/agents/dev-e-1/x1", 404),
                         ("/no/such/route", 404)):
        async with http.get(url + path) as resp:
            assert resp.status == status
    async with http.delete(f"{url}/api/events") as resp:  # a method the route does not have
        assert resp.status == 405
    metrics = await scrape(http, url)
    requests = "conductor_e_http_requests_total"
    assert metrics.value(requests, route="/api/events", method="POST", status="201") == 1
    assert metrics.value(requests, route="/api/events", method="POST", status="422") == 1
    assert metrics.value(requests, route="/api/agents/{agent_id}", method="GET", status="200") == 1
    # The route's canonical path, never the path requested: one series for every agent id.
    assert metrics.value(requests, route="/api/agents/{agent_id}", method="GET", status="404") == 2
    assert metrics.value(requests, route="(unmatched)", method="GET", status="404") == 1
    assert metrics.value(requests, route="(unmatched)", method="DELETE", status="405") == 1
    assert not any("nobody" in str(s.labels) or "/no/such" in str(s.labels) for s in metrics.samples)


async def test_rule_follow_ups_reminders_and_claims(served: tuple[Service, aiohttp.ClientSession, str]) -> None:
    _, http, url = served
    issue = {"repo": REPO, "issueNumber": 7}
    await post(http, url, {"type": "ISSUE_APPROVED", **issue})
    await post(http, url, {"type": "SMOKE_FAILED", **issue, "reason": "external_dependency"})  # the rule escalates
    # A client's own "rule" text is no rule's follow-up, and never a label.
    await post(http, url, {"type": "ISSUE_UNASSIGNED", **issue, "agentId": "dev-e-2", "rule": "made-up"})
    await post(http, url, {"type": "HUMAN_GATE_REMINDER", **issue})
    await post(http, url, {"type": "ISSUE_APPROVED", "repo": REPO, "issueNumber": 8})
    for _ in range(2):  # claims #8, then holds it
        async with http.get(f"{url}/api/assignments/next", params={"agentId": "dev-e-1"}) as resp:
            assert resp.status == 200
    async with http.get(f"{url}/api/assignments/next", params={"agentId": "dev-e-3"}) as resp:
        assert resp.status == 204
    async with http.head(f"{url}/api/assignments/next", params={"agentId": "dev-e-3"}) as resp:
        assert resp.status == 204  # a look, not a claim
    metrics = await scrape(http, url)
    assert metrics.value("conductor_e_rule_follow_ups_total", rule="smoke-external") == 1
    assert not any(s.labels.get("rule") == "made-up" for s in metrics.samples)
    assert metrics.value("conductor_e_events_appended_total", type="ESCALATED") == 1
    assert metrics.value("conductor_e_gate_reminders_total") == 1
    assert [metrics.value("conductor_e_claims_total", outcome=o) for o in ("claimed", "held", "none")] == [1, 1, 1]
    assert metrics.value("conductor_e_decision_seconds_count") >= 3


async def test_gauges_are_read_when_scraped(served: tuple[Service, aiohttp.ClientSession, str]) -> None:
    service, http, url = served
    metrics = await scrape(http, url)
    assert metrics.value("conductor_e_writer_queue_depth") == 0
    assert service.pool is not None
    assert metrics.value("conductor_e_db_pool_max_connections") == service.pool.get_max_size()
    assert 1 <= metrics.value("conductor_e_db_pool_connections") <= service.pool.get_max_size()
    assert 0 <= metrics.value("conductor_e_db_pool_idle_connections") <= metrics.value("conductor_e_db_pool_connections")
    assert {"process_cpu_seconds_total", "process_resident_memory_bytes", "python_gc_collections_total",
            "python_info"} <= metrics.names()
    assert metrics.value("conductor_e_build_info") == 1
    # Without Discord or Valkey configured, their lags are not reported.
    assert not {n for n in metrics.names() if "delivery_lag" in n or "valkey" in n}
    async with http.get(f"{url}/metrics", headers={"Accept": "application/openmetrics-text"}) as resp:
        assert resp.status == 200 and resp.content_type == "application/openmetrics-text"
        assert (await resp.text()).endswith("# EOF\n")


async def test_services_in_one_process_count_apart(db: asyncpg.Pool, pg_server_dsn: str) -> None:
    settings = Settings(host="127.0.0.1", port=0, credentials=TEST_CREDENTIALS)
    async with Service(settings, dsn=pg_server_dsn) as one, Service(settings, dsn=pg_server_dsn) as other, \
            aiohttp.ClientSession() as http:
        await post(http, f"http://127.0.0.1:{one.port}", {"type": "HEARTBEAT", "agentId": "dev-e-1"})
        assert (await scrape(http, f"http://127.0.0.1:{one.port}")).value(
            "conductor_e_events_appended_total", type="HEARTBEAT") == 1
        assert (await scrape(http, f"http://127.0.0.1:{other.port}")).value(
            "conductor_e_events_appended_total", type="HEARTBEAT") == 0


async def test_in_the_tokens_mode_metrics_need_a_token_and_the_description_does_not(
        db: asyncpg.Pool, pg_server_dsn: str) -> None:
    credentials = Credentials.parse(agents=f"dev-e-1={AGENT_TOKEN}", operators=f"carol={OPERATOR_TOKEN}")
    settings = Settings(host="127.0.0.1", port=0, credentials=credentials)
    async with Service(settings, dsn=pg_server_dsn) as service, aiohttp.ClientSession() as http:
        url = f"http://127.0.0.1:{service.port}"
        async with http.get(f"{url}/metrics") as resp:
            assert resp.status == 401 and (await resp.json())["error"] == "missing_credential"
        for token in (AGENT_TOKEN, OPERATOR_TOKEN):
            await scrape(http, url, Authorization=f"Bearer {token}")
        async with http.get(f"{url}/openapi.json") as resp:
            assert resp.status == 200 and (await resp.json())["openapi"] == "3.1.0"


async def test_discord_messages_posted_and_the_delivery_lag(fake: FakeDiscord, db: asyncpg.Pool, pg_server_dsn: str,
                                                            clock: FakeClock) -> None:
    async with running_rig(fake, pg_server_dsn, clock) as rig:
        await rig.post({"type": "ISSUE_APPROVED", "repo": REPO, "issueNumber": 7, "title": "Add health check"})
        await rig.post({"type": "WORK_STARTED", "repo": REPO, "issueNumber": 7, "agentId": "dev-e-1"})
        posted = await _eventually(rig.http, rig.url, lambda m: m.value(
            "conductor_e_discord_messages_posted_total", target="thread") == 2)
        assert posted.value("conductor_e_discord_messages_posted_total", target="channel") == 0
        caught_up = await _eventually(rig.http, rig.url, lambda m: m.value(
            "conductor_e_discord_delivery_lag_events") == 0)
        assert caught_up.value("conductor_e_discord_delivery_lag_seconds") == 0


async def _eventually(http: aiohttp.ClientSession, url: str, condition: Any, timeout: float = 10.0) -> Scraped:
    """Scrape until ``condition`` holds (delivery runs beside the requests), at most ``timeout`` s."""
    async with asyncio.timeout(timeout):
        while True:
            metrics = await scrape(http, url)
            if condition(metrics):
                return metrics
            await asyncio.sleep(0.05)
