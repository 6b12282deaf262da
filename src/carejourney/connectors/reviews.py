"""The online-review connector (``kind: reviews``): a CSV export of public reviews.

Default columns (docs/raw-formats.md; override any with ``mapping: {field: column}``)::

    review_id, posted_at, site, location, rating, author_name, text

Each review yields one feedback row with no person (reviews cannot be linked to a patient):
``source_event`` = the site (google, yelp, healthgrades…), rating 1-5 stars
(``rating_scale = 5``), the text, at ``posted_at``. No event is staged.

``author_name`` is never stored: it is read only to scrub that name (and each part of it)
from the review's own text, before the general PHI scrubber runs at ingest.

Rejected rows: unreadable or empty ``posted_at``; a rating outside 1-5 or not a whole number;
a review with neither rating nor text.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from ..privacy.scrub import scrub_text
from ._exports import Export
from .base import STAGED_FEEDBACK, ReadContext, Staged, register
from .surveys import parse_scale

__all__ = ["ReviewsConnector", "DEFAULT_MAPPING"]

DEFAULT_MAPPING = {f: f for f in ("review_id", "posted_at", "site", "location", "rating", "author_name", "text")}


@register("reviews")
class ReviewsConnector:
    """Public reviews → anonymous star-rating feedback rows (author names dropped)."""

    def read(self, path: Path, ctx: ReadContext) -> Staged:
        x = Export(path, ctx, DEFAULT_MAPPING, required=("posted_at", "rating"))
        posted = x.require_ts("posted_at")
        _, bad = parse_scale(x.column("rating"), 1, 5, x.table.num_rows)
        x.reject(pa.array(bad), x.map["rating"], f"{x.map['rating']} must be a whole number of stars from 1 to 5")
        text = x.column("text")
        empty = pc.and_(pc.is_null(x.column("rating")),
                        pc.is_null(text) if text is not None else pa.array([True] * x.table.num_rows))
        x.reject(empty, x.map["rating"], "the review has neither a rating nor text")
        n = x.table.num_rows
        if n:
            x.add_feedback(self._feedback(x, posted))
        x.detail["identifier_columns_not_stored"] = [c for c in (x.real("author_name"),) if c]
        return x.staged()

    @staticmethod
    def _feedback(x: Export, posted: str) -> pa.Table:
        n = x.table.num_rows
        blank = [None] * n

        def col(field: str) -> list:
            c = x.column(field)
            return c.to_pylist() if c is not None else blank

        rating, _ = parse_scale(x.column("rating"), 1, 5, n)
        authors = col("author_name")
        texts = [scrub_text(t, names=[a] if a else None) for t, a in zip(col("text"), authors)]
        site = [s.lower() if s else "review" for s in col("site")]
        return pa.table({
            "row_num": x.table["row_num"], "id_type": pa.nulls(n, pa.string()), "id_value": pa.nulls(n, pa.string()),
            "ts": x.table[posted], "source": pa.array([x.spec.name] * n, pa.string()),
            "source_event": pa.array(site, pa.string()),
            "touchpoint": pa.array([x.spec.constants.get("touchpoint")] * n, pa.string()),
            "location": pa.array(col("location"), pa.string()), "service_line": pa.nulls(n, pa.string()),
            "rating": pa.array(rating, pa.float64()), "rating_scale": pa.array([5.0] * n, pa.float64()),
            "text": pa.array(texts, pa.string()),
        }, schema=STAGED_FEEDBACK)
