"""Read-ahead for the ingest pipeline: the next item of a stream prepared in a background thread."""

from __future__ import annotations

import queue
import threading
from typing import Iterable, Iterator, TypeVar

__all__ = ["prefetch"]

T = TypeVar("T")


def prefetch(stream: Iterable[T], depth: int = 1) -> Iterator[T]:
    """Iterate ``stream`` with up to ``depth`` items prepared ahead in a background thread.

    Arrow, Parquet and DuckDB release the GIL while they work, so the stages of an ingest overlap
    on the cores: the connector decodes the next batch while the previous one is pseudonymised,
    which overlaps with DuckDB compressing and writing the one before. The producer's exceptions
    are re-raised here, in the consumer; a consumer that stops early stops the producer.
    """
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    end = object()

    def put(item) -> bool:
        """Hand ``item`` over; False once the consumer has stopped (never blocks for good)."""
        while not stop.is_set():
            try:
                q.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def produce():
        try:
            for chunk in stream:
                if not put((True, chunk)):
                    return
            put((True, end))
        except BaseException as exc:  # handed to the consumer
            put((False, exc))

    worker = threading.Thread(target=produce, name="carejourney-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            ok, item = q.get()
            if not ok:
                raise item
            if item is end:
                return
            yield item
            del item
    finally:
        stop.set()
