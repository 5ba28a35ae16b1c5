"""The access log (``ACCESS_LOG=true``): one INFO line per answered request, on ``aiohttp.access``.

Every status is INFO, 4xx included: a refused request is the client's mistake, and the service's
own failures (a 500, the database down) are logged where they happen. In the JSON log the line
carries its parts as fields, and the request's id and stream like any line logged answering it.
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from ..log_context import request_id


class AccessLog(AbstractAccessLogger):
    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        if not self.logger.isEnabledFor(logging.INFO):
            return
        took = round(time * 1000, 1)
        remote = request.remote or "-"
        agent = request.headers.get("User-Agent", "-")
        size = response.body_length
        self.logger.info('%s "%s %s HTTP/%d.%d" %d %d %.1f ms "%s"', remote, request.method, request.path_qs,
                         request.version.major, request.version.minor, response.status, size, took, agent,
                         extra={"request_id": request_id(request), "fields": {
                             "method": request.method, "path": request.path, "status": response.status,
                             "durationMs": took, "bytes": size, "remote": remote, "userAgent": agent}})

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)
