"""Feedback enrichment at ingest: scrub PHI from free text, score sentiment, tag topics."""

from __future__ import annotations

import pyarrow as pa

from ..privacy.scrub import scrub_texts

__all__ = ["enrich_feedback"]


def enrich_feedback(project, table: pa.Table) -> pa.Table:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    texts = scrub_texts(table["text"].to_pylist())
    analyzer = SentimentIntensityAnalyzer()
    sentiment = [None if t is None else analyzer.polarity_scores(t)["compound"] for t in texts]
    table = table.set_column(table.column_names.index("text"), "text", pa.array(texts, pa.string()))
    return table.append_column("sentiment", pa.array(sentiment, pa.float64())) \
        .append_column("stage", pa.nulls(table.num_rows, pa.string())) \
        .append_column("topics", pa.nulls(table.num_rows, pa.string()))
