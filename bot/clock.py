"""The one place that reads the wall clock; everything else is handed a ``Clock``."""

from __future__ import annotations

from collections import deque
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
    (``observe``: the database's time against the middle of the round trip) and taken from the
    quickest of the last ``window`` round trips, whose half bounds its error (``error``).
    """

    def __init__(self, local: Clock = utc_now, window: int = 40) -> None:
        self._local = local
        self._samples: deque[tuple[timedelta, timedelta]] = deque(maxlen=window)  # (round trip, offset)
        self.offset = timedelta(0)
        self.error: timedelta | None = None  # None until a first measurement

    @property
    def measured(self) -> bool:
        return self.error is not None

    def observe(self, database_now: datetime, sent: datetime, received: datetime) -> None:
        round_trip = received - sent
        if round_trip < timedelta(0):
            return  # the local clock stepped back meanwhile
        self._samples.append((round_trip, database_now - (sent + round_trip / 2)))
        best_trip, self.offset = min(self._samples, key=lambda s: s[0])
        self.error = best_trip / 2

    @property
    def local(self) -> Clock:
        return self._local

    def __call__(self) -> datetime:
        return self._local() + self.offset
