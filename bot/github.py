"""Merging pull requests through GitHub's REST API: the ``eventstore.merge.Merger`` port.

``PUT {GITHUB_API_URL}/repos/{owner}/{repo}/pulls/{n}/merge`` with the token as a bearer
credential. Every call is bounded (``timeout``), so a request to ``POST /api/merge`` always gets an
answer; the token is never logged and never part of an error.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import aiohttp
import orjson

from eventstore.merge import MergeRefused, MergerFailed, MergerUnavailable

MERGE_TIMEOUT = 10.0  # seconds for the whole call: GitHub answers a merge in about a second
# GitHub's own refusals of a merge: 405 not mergeable (a failed requirement, a draft, already
# merged), 409 the head moved or a conflict, 422 a bad merge method or parameter.
REFUSALS = frozenset({405, 409, 422})
MAX_ANSWER = 64 * 1024  # bytes of GitHub's answer read at most (a merge answer is ~100)


class GitHubMerger:
    def __init__(self, api_url: str, token: str, *, method: str = "merge", timeout: float = MERGE_TIMEOUT) -> None:
        self._api = api_url.rstrip("/")
        self._token = token
        self._method = method
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return f"GitHubMerger({self._api!r})"  # never the token

    async def merge(self, repo: str, pr_number: int) -> str:
        owner, _, name = repo.partition("/")
        url = f"{self._api}/repos/{quote(owner, safe='')}/{quote(name, safe='')}/pulls/{pr_number}/merge"
        headers = {
            "Authorization": f"Bearer {self._token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "conductor-e",  # GitHub refuses requests without one
        }
        try:
            async with self._client().put(url, json={"merge_method": self._method}, headers=headers,
                                          timeout=self._timeout, allow_redirects=False) as resp:
                status, answer = resp.status, await _read_bounded(resp)
        except (TimeoutError, aiohttp.ClientError) as exc:
            reason = "no answer within the timeout" if isinstance(exc, TimeoutError) else \
                f"{type(exc).__name__}: {exc}"
            raise MergerUnavailable(f"GitHub could not be reached ({reason})"[:300]) from None
        body = _json(answer)
        if status == 200:
            sha = body.get("sha")
            if isinstance(sha, str) and sha:
                return sha
            raise MergerFailed(status, "GitHub answered 200 without the merge commit's sha")
        message = _message(body, answer, status)
        if status in REFUSALS:
            raise MergeRefused(status, message)
        raise MergerFailed(status, message)

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


async def _read_bounded(resp: aiohttp.ClientResponse) -> bytes:
    data = bytearray()
    async for chunk in resp.content.iter_chunked(8192):
        data += chunk
        if len(data) >= MAX_ANSWER:
            break
    return bytes(data[:MAX_ANSWER])


def _json(answer: bytes) -> dict[str, Any]:
    try:
        body = orjson.loads(answer)
    except orjson.JSONDecodeError:
        return {}
    return body if isinstance(body, dict) else {}


def _message(body: dict[str, Any], answer: bytes, status: int) -> str:
    """GitHub's own words: its ``message`` (with the first error's, if any), else the answer's text."""
    message = body.get("message")
    if isinstance(message, str) and message:
        errors = body.get("errors")
        first = errors[0] if isinstance(errors, list) and errors else None
        detail = first.get("message") if isinstance(first, dict) else first if isinstance(first, str) else None
        return f"{message}: {detail}"[:500] if isinstance(detail, str) and detail else message[:500]
    text = " ".join(answer.decode("utf-8", "replace").split())[:300]
    return text or f"GitHub answered {status} without a message"
