"""Feedback enrichment at ingest: scrub PHI from free text, score sentiment, tag topics, place
each item on the journey (stage and, where possible, touchpoint).

Stage and touchpoint, in order of precedence:

1. the touchpoint the source gave (a ``touchpoint`` constant or column) → its stage;
2. a source option ``stage:`` (``options: {stage: care}`` in sources/*.yml) → that stage;
3. keyword rules from the topic taxonomy: topics vote for their hinted stages and time cues in
   the text ("after my visit") add to theirs (:meth:`Taxonomy.stage_hint`); only stages of the
   project's journeys count (then the first touchpoint hint on that stage);
4. the source's default: survey → post_visit, reviews → loyalty, call notes → access,
   portal messages → post_visit (falling back to the nearest stage the journeys have).

The sentiment scorer is VADER unless ``CAREJOURNEY_SENTIMENT_SCORER=embedding`` is set (needs
the ``nlp`` extra). Texts are scrubbed *before* they are scored or tagged. A file with
:data:`PARALLEL_MIN` (50,000) texts or more is split over the machine's cores (up to 4 forked
worker processes, :func:`analyse_texts_parallel`); the result is the same as in one process.
"""

from __future__ import annotations

import os
import threading
from typing import Sequence

import orjson
import pyarrow as pa

from ..privacy.scrub import scrub_text
from .scoring import Scorer, get_scorer
from .topics import Taxonomy, builtin_taxonomy, load_taxonomy

__all__ = ["enrich_feedback", "analyse_texts", "analyse_texts_parallel", "DEFAULT_STAGES_BY_SOURCE", "PARALLEL_MIN"]

#: Where feedback lands when nothing more specific is known: source kind / source_event →
#: preferred stages, most likely first.
DEFAULT_STAGES_BY_SOURCE: dict[str, tuple[str, ...]] = {
    "survey": ("post_visit", "care"),
    "reviews": ("loyalty", "post_visit"),
    "review": ("loyalty", "post_visit"),
    "calls": ("access",),
    "call_note": ("access",),
    "portal": ("post_visit", "care"),
    "portal_message": ("post_visit", "care"),
}


def analyse_texts(texts: Sequence[str | None], *, scorer: Scorer | None = None,
                  taxonomy: Taxonomy | None = None) -> tuple[list[str | None], list[float | None], list[list[str] | None]]:
    """Scrub, score and tag a batch: (scrubbed texts, sentiments, topic lists). One process."""
    scorer = scorer or get_scorer("vader")
    taxonomy = taxonomy or builtin_taxonomy()
    clean = [scrub_text(t) for t in texts]
    sentiment = scorer.score(clean)
    topics = [None if t is None else taxonomy.tag(t) for t in clean]
    return clean, sentiment, topics


#: What forked workers read: (texts, scorer, taxonomy), set just before the pool forks so each
#: worker inherits it instead of receiving its texts through a pipe.
_SHARED: tuple[Sequence[str | None], Scorer | None, Taxonomy | None] | None = None
_SHARED_LOCK = threading.Lock()  # one parallel batch at a time per process (threads share _SHARED)


def _work(bounds: tuple[int, int]):
    """One forked worker's slice: returns only the texts the scrub changed (index, text)."""
    texts, scorer, taxonomy = _SHARED
    part = texts[bounds[0]:bounds[1]]
    clean, sent, topics = analyse_texts(part, scorer=scorer, taxonomy=taxonomy)
    changed = [(i, c) for i, (t, c) in enumerate(zip(part, clean)) if c is not t and c != t]
    return bounds[0], changed, sent, topics


def _work_pickled(part: list[str | None]):
    return analyse_texts(part)


#: Batches at least this big go to :func:`analyse_texts_parallel` at ingest (below it, starting
#: worker processes costs more than it saves).
PARALLEL_MIN = 50_000


def analyse_texts_parallel(texts: Sequence[str | None], workers: int = 2, chunk: int | None = None, *,
                           scorer: Scorer | None = None, taxonomy: Taxonomy | None = None):
    """:func:`analyse_texts` over ``workers`` processes; same result, in the same order.

    With ``fork`` (Linux) workers inherit the texts, scorer and taxonomy and send back only
    what they computed (texts the scrub left alone are not sent back); elsewhere chunks are
    pickled to workers using the default scorer and taxonomy (others run in this process).
    Only the VADER scorer runs in workers: a model-backed scorer stays in one process.
    ``chunk`` (texts per task) defaults to about an eighth of each worker's share, 1,000 to
    10,000, so that workers finish together.
    """
    global _SHARED
    import multiprocessing as mp
    from .scoring import VaderScorer
    fork = "fork" in mp.get_all_start_methods()
    custom = scorer is not None or taxonomy is not None
    chunk = chunk or max(1_000, min(10_000, len(texts) // (8 * max(workers, 1))))
    if (workers <= 1 or len(texts) <= chunk or (scorer is not None and not isinstance(scorer, VaderScorer))
            or (custom and not fork)):
        return analyse_texts(texts, scorer=scorer, taxonomy=taxonomy)
    if not fork:
        parts = [list(texts[i:i + chunk]) for i in range(0, len(texts), chunk)]
        clean, sent, topics = [], [], []
        with mp.get_context().Pool(workers) as pool:
            for c, s, t in pool.imap(_work_pickled, parts):
                clean += c
                sent += s
                topics += t
        return clean, sent, topics
    texts = texts if isinstance(texts, list) else list(texts)
    clean = list(texts)
    sent: list[float | None] = []
    topics: list[list[str] | None] = []
    with _SHARED_LOCK:
        _SHARED = (texts, scorer, taxonomy)
        try:
            with mp.get_context("fork").Pool(workers) as pool:
                for start, changed, s, t in pool.imap(_work, [(i, i + chunk) for i in range(0, len(texts), chunk)]):
                    for i, c in changed:
                        clean[start + i] = c
                    sent += s
                    topics += t
        finally:
            _SHARED = None
    return clean, sent, topics


def _cpus() -> int:
    """Cores this process may use (at most 4: more rarely pays for the extra processes)."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        n = os.cpu_count() or 1
    return min(n, 4)


def _source_kinds(project) -> dict[str, tuple[str, dict]]:
    return {s.name: (s.kind, dict(s.options)) for s in getattr(project, "sources", [])}


def _journey_facts(project) -> tuple[list[str], dict[str, str]]:
    stages: list[str] = []
    catalog: dict[str, str] = {}
    for j in getattr(project, "journeys", {}).values():
        for s in j.stages:
            if s.id not in stages:
                stages.append(s.id)
        for tp in j.touchpoints:
            catalog.setdefault(tp.id, tp.stage)
    return stages, catalog


def _default_stage(kind: str | None, source_event: str | None, stages: list[str]) -> str | None:
    prefs = DEFAULT_STAGES_BY_SOURCE.get(source_event or "") or DEFAULT_STAGES_BY_SOURCE.get(kind or "") or ()
    for s in prefs:
        if s in stages:
            return s
    if not prefs or not stages:
        return None
    # a journey without the preferred stage: the last stage for after-care sources, else the first
    return stages[-1] if prefs[0] in ("post_visit", "loyalty") else stages[0]


def enrich_feedback(project, table: pa.Table, *, scorer: Scorer | None = None,
                    taxonomy: Taxonomy | None = None) -> pa.Table:
    """Scrub, score, tag and place staged feedback rows (raw text never leaves this function)."""
    scorer = scorer or get_scorer(os.environ.get("CAREJOURNEY_SENTIMENT_SCORER", "vader"))
    taxonomy = taxonomy or load_taxonomy(project)
    texts = table["text"].to_pylist()
    workers = _cpus()
    if len(texts) >= PARALLEL_MIN and workers > 1:  # a big file: spread it over the cores
        clean, sentiment, topics = analyse_texts_parallel(texts, workers, scorer=scorer, taxonomy=taxonomy)
    else:
        clean, sentiment, topics = analyse_texts(texts, scorer=scorer, taxonomy=taxonomy)
    stages, catalog = _journey_facts(project)
    stage_set = set(stages)
    kinds = _source_kinds(project)
    out_tp, out_stage = [], []
    for tp, src, sev, tops, text in zip(table["touchpoint"].to_pylist(), table["source"].to_pylist(),
                                        table["source_event"].to_pylist(), topics, clean):
        kind, options = kinds.get(src, (src, {}))
        if tp is not None and tp in catalog:
            out_tp.append(tp)
            out_stage.append(catalog[tp])
            continue
        forced = options.get("stage")
        stage = forced if isinstance(forced, str) and forced in stage_set else None
        if stage is None and text:
            stage = taxonomy.stage_hint(tops or [], stage_set, text)
        if stage is None:
            stage = _default_stage(kind, sev, stages)
        out_stage.append(stage)
        out_tp.append(taxonomy.touchpoint_hint(tops, catalog, stage) if tops else None)
    topics_json = [None if t is None else orjson.dumps(t).decode() for t in topics]
    cols = {c: table[c] for c in table.column_names if c not in ("text", "touchpoint", "stage", "sentiment", "topics")}
    cols.update({
        "text": pa.array(clean, pa.string()),
        "touchpoint": pa.array(out_tp, pa.string()),
        "stage": pa.array(out_stage, pa.string()),
        "sentiment": pa.array(sentiment, pa.float64()),
        "topics": pa.array(topics_json, pa.string()),
    })
    return pa.table(cols)
