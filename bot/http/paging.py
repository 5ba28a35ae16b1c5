"""Pages of a list route: ``?limit=`` (default 100, at most 1,000) and ``?page=`` (from 1).

The answer stays a JSON array, so clients that read the array keep working; the way on is in a
``Link`` header as GitHub's API gives it (``<…?page=2&limit=100>; rel="next"``, and ``prev``,
``first``, ``last``), with the count of all items in ``X-Total-Count``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from eventstore.read_models import Listing

from .errors import json_response
from .query import int_param

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


@dataclass(frozen=True)
class PageParams:
    page: int
    limit: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit


def page_params(request: web.Request) -> PageParams:
    limit = int_param(request, "limit", DEFAULT_LIMIT, minimum=1, maximum=MAX_LIMIT)
    page = int_param(request, "page", 1, minimum=1, maximum=10**9)
    return PageParams(page, limit)


def paged_response(request: web.Request, page: PageParams, listing: Listing[Any], body: list[Any]) -> web.Response:
    last = max(1, -(-listing.total // page.limit))
    links = {"first": 1, "last": last}
    if listing.has_next:
        links["next"] = page.page + 1
    if page.page > 1:
        links["prev"] = min(page.page - 1, last)
    header = ", ".join(f'<{request.rel_url.update_query(page=n, limit=page.limit)}>; rel="{rel}"'
                       for rel, n in sorted(links.items(), key=lambda kv: ("next", "prev", "first", "last").index(kv[0])))
    return json_response(body, headers={"Link": header, "X-Total-Count": str(listing.total)})
