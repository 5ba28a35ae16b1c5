"""Read models. Each module holds one document type and a pure fold ``evolve(doc, event) -> doc``.

The store applies them inline, inside the append transaction, through a ``Projector``: reads
see the writes they follow. The projector is handed a ``DocumentSet`` (the documents of the
current transaction) and may return follow-up events; it never does I/O itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol, TypeVar

from pydantic import BaseModel

if TYPE_CHECKING:
    from ..store import PendingEvent, RecordedEvent
    from ..streams import StreamRef

D = TypeVar("D", bound=BaseModel)


class DocumentSet(Protocol):
    async def get(self, model: type[D], doc_id: str) -> D | None: ...

    async def prefetch(self, model: type[BaseModel], doc_ids: Iterable[str]) -> None: ...

    def put(self, doc_id: str, doc: BaseModel) -> None: ...


class Projector(Protocol):
    async def prepare(self, streams: Iterable[StreamRef], docs: DocumentSet) -> None:
        """Optionally load in bulk what a batch of events on ``streams`` will touch."""
        ...

    async def apply(self, recorded: RecordedEvent, stream: StreamRef,
                    docs: DocumentSet) -> list[PendingEvent]:
        """Fold ``recorded`` into the documents it touches; return follow-up events to append."""
        ...
