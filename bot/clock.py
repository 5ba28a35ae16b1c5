"""The one place that reads the wall clock; everything else is handed a ``Clock``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class DatabaseClock:
    """The database's clock, read through this machine's: ``local() + offset``.

    Several processes share one database but not one clock, and a few minutes of skew would make
    the no-heartbeat rule call a healthy agent stuck. So every timestamp the service makes (events,
    the rules' "now") is the database's time: the offset is measured at each liveness ping
    (``observe``: the database's time against the middle of the round trip), from round trips
    short enough to bound the error by half of ``max_round_trip``.
    """

    def __init__(self, local: Clock = utc_now, max_round_trip: timedelta = timedelta(milliseconds=50)) -> None:
        self._local = local
        self._max_round_trip = max_round_trip
        self.offset = timedelta(0)
        self.measured = False

    def observe(self, database_now: datetime, sent: datetime, received: datetime) -> None:
        round_trip = received - sent
        if round_trip > self._max_round_trip or round_trip < timedelta(0):
            return
        self.offset = database_now - (sent + round_trip / 2)
        self.measured = True

    @property
    def local(self) -> Clock:
        return self._local

    def __call__(self) -> datetime:
        return self._local() + self.offset
