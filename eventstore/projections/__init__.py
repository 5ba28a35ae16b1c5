"""Read models. Each module holds one document type and a pure fold ``evolve(doc, event) -> doc``.

The store applies them inline, inside the append transaction, through a ``Projector``: reads
see the writes they follow. The projector is handed a ``DocumentSet`` (the documents of the
current transaction) and may return follow-up events; it never does I/O itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Annotated, Protocol, TypeVar

from pydantic import BaseModel, PlainSerializer

if TYPE_CHECKING:
    from ..events import Event
    from ..store import PendingEvent, RecordedEvent
    from ..streams import StreamRef

D = TypeVar("D", bound=BaseModel)


def _fixed_width_utc(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# A time stored as fixed-width UTC text (microseconds always written), so that its text sorts as
# the time itself: the queue's index orders by it (eventstore.postgres.queries).
SortableTime = Annotated[datetime, PlainSerializer(_fixed_width_utc, return_type=str, when_used="json")]


class DocumentSet(Protocol):
    async def get(self, model: type[D], doc_id: str) -> D | None: ...

    def put(self, doc_id: str, doc: BaseModel) -> None: ...


class Projector(Protocol):
    def inert_aliases(self) -> frozenset[str]:
        """The stored aliases of the event types ``is_inert`` is true for (a rebuild skips them)."""
        ...

    def is_inert(self, event: Event) -> bool:
        """True if ``event`` changes no document and triggers no rule (it needs no state)."""
        ...

    def uncached_documents(self) -> frozenset[type[BaseModel]]:
        """Document types the store should not keep in its cache between batches."""
        ...

    def documents_for(self, pendings: Sequence[PendingEvent]) -> Mapping[type[BaseModel], Iterable[str]]:
        """The documents a batch of events will touch, so the store can load them in bulk."""
        ...

    async def apply(self, recorded: RecordedEvent, stream: StreamRef,
                    docs: DocumentSet) -> list[PendingEvent]:
        """Fold ``recorded`` into the documents it touches; return follow-up events to append."""
        ...
