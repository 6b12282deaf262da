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

    def produce():
        try:
            for chunk in stream:
                while not stop.is_set():
                    try:
                        q.put((True, chunk), timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put((True, end))
        except BaseException as exc:  # handed to the consumer
            q.put((False, exc))

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
