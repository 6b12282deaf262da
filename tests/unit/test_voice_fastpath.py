"""The fast feedback path gives exactly what the plain one gives.

- the scorer against vaderSentiment's own ``polarity_scores`` (+ our lexicon) on varied texts:
  templates, synthetic comments and random word salads (negations, boosters, caps, "but",
  idioms, emphasis, emoticons, emojis, non-ASCII, blank texts);
- the taxonomy scan (keywords regrouped by first character) against the plain alternation;
- the parallel path and ingest enrichment against the single-process path.
"""

from __future__ import annotations

import random
import re
import importlib.util
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pytest
from vaderSentiment import vaderSentiment as V

from carejourney.project import load_project
from carejourney.synth.text import NEGATIVE, POSITIVE
from carejourney.voice import enrich
from carejourney.voice.enrich import analyse_texts, analyse_texts_parallel, enrich_feedback
from carejourney.voice.scoring import HEALTHCARE_LEXICON, VaderScorer
from carejourney.voice.topics import Taxonomy, Topic, _keyword_regex, builtin_taxonomy
from tests.conftest import MINI_JOURNEY


def _bench_module(name: str):
    """A script of bench/ by path (not by putting bench/ on sys.path: bench/fhir.py would then
    shadow the fhir.resources package for every later test in the process)."""
    path = Path(__file__).resolve().parents[2] / "bench" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_texts = _bench_module("feedback").make_texts  # the benchmark's own generator


@pytest.fixture(scope="module")
def reference():
    """vaderSentiment as shipped, with our healthcare words: the result the fast path must give."""
    a = V.SentimentIntensityAnalyzer()
    a.lexicon.update(HEALTHCARE_LEXICON)
    return a


def _salads(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    lexicon = sorted(w for w in V.SentimentIntensityAnalyzer().lexicon if w.isalpha())
    rules = (V.NEGATE + list(V.BOOSTER_DICT) + list(V.SPECIAL_CASES) + list(HEALTHCARE_LEXICON)
             + ["no", "not", "never", "so", "this", "without", "doubt", "least", "at", "very", "but", "BUT",
                "kind of", "kind", "of", "or", "nor", "isn't", "don't", "the", "bus stop", "kiss of death"])
    neutral = ["clinic", "appointment", "the", "a", "bill", "parking", "I", "was", "to", "xyzzy", "3"]
    decor = ["", "", "!", "!!", "!!!!!", "?", "??", "????", ".", ",", ":)", ":-(", "<3", "😀", "😡", "🙂", "☺️",
             "héllo", "café", "naïve", "—", "''", "...", "(", ")"]
    out = []
    for _ in range(n):
        words = []
        for _ in range(rng.randint(0, 14)):
            pool = rng.choice((lexicon, rules, rules, neutral, decor))
            w = rng.choice(pool)
            r = rng.random()
            w = w.upper() if r < 0.12 else w.capitalize() if r < 0.25 else w
            words.append(w + (rng.choice(decor) if rng.random() < 0.15 else ""))
        sep = rng.choice((" ", " ", "  ", "\t", "\n"))
        out.append(sep.join(words) + rng.choice(("", "", "!", "?!?", "!!!!!!", " ")))
    return out


def _varied(n_salad: int = 3000) -> list[str]:
    synth = [re.sub(r"\{\w*\}", "3", t) for ts in (*NEGATIVE.values(), POSITIVE) for t in ts]
    handmade = ["", " ", "   \t", "no", "No problem at all", "not bad, not good", "I am not NOT happy",
                "The staff were GREAT but the wait was TERRIBLE!!!", "kind of rude", "sort of helpful",
                "at least they listened", "the least helpful visit", "never so happy", "without doubt the best",
                "no wait or delay", "no no no", "it was the bomb", "yeah right, great service",
                "Kiss of death for this clinic", "bus stop outside", "cut the mustard", "😀😀", "I ❤ this", "SO GOOD",
                "very VERY good", "isn't good", "ain't great", "could not be happier", "wasn't rude?", "???"]
    return make_texts(3000, 7) + synth + handmade + _salads(n_salad, 11)


def test_vader_scorer_matches_polarity_scores_and_blank_is_none(reference):
    texts = _varied(500) + [None, "", "  \n"]
    expected = [None if not t or not t.strip() else reference.polarity_scores(t)["compound"] for t in texts]
    assert VaderScorer().score(texts) == expected


def _plain_tagger(tx: Taxonomy):
    """The taxonomy scan before regrouping: one plain alternation per topic, in file order."""
    groups = []
    for i, t in enumerate(tx.topics.values()):
        terms = sorted((_keyword_regex(k) for k in t.keywords if k.strip()), key=len, reverse=True)
        terms += [f"(?i:{p})" for p in t.patterns]
        if terms:
            groups.append(f"(?P<t{i}>{'|'.join(terms)})")
    rx = re.compile(r"\b(?:" + "|".join(groups) + r")(?!\w)")
    ids = list(tx.topics)
    placeholder = re.compile(r"\[(?:NAME|PHONE|EMAIL|DATE|ADDRESS|ZIP|SSN|MRN|URL)\]")

    def tag(text):
        if not text:
            return []
        text = placeholder.sub(" ", text)
        return list(dict.fromkeys(ids[int(m.lastgroup[1:])] for m in rx.finditer(text.lower())))
    return tag


def _custom(word_first: bool = False) -> Taxonomy:
    """Odd keywords and patterns; ``word_first`` keeps only terms that start on a word character."""
    topics = dict(builtin_taxonomy().topics)
    topics["odd"] = Topic(keywords=["co-pay", "a", "c++", "wait*", "x-ray tech", "w", "waiting area", "ñu"],
                          patterns=[r"\d+ ?min(?:ute)?s?", r"(wait|hold)ing", r"[a-c]\w+-\w+"])
    if not word_first:
        topics["odd"].keywords.append("#1")
        topics["odd"].patterns.append(r"\$\d+")
        topics["star"] = Topic(keywords=["*", "bill"])
    return Taxonomy(topics)


def test_word_end_guard_only_when_every_term_starts_on_a_word_character():
    assert r"\b(?=\w)" in builtin_taxonomy()._rx.pattern and r"\b(?=\w)" in _custom(True)._rx.pattern
    assert r"(?=\w)" not in _custom()._rx.pattern.split("(?:", 1)[0]
    for bad in ([r"\$\d+"], [r"x?-"], [r"(?:-|a)b"], [r"\W"], [r"\w*"]):
        assert r"\b(?=\w)" not in Taxonomy({"t": Topic(keywords=["bill"], patterns=bad)})._rx.pattern


@pytest.mark.parametrize("taxonomy", [builtin_taxonomy(), _custom(), _custom(True)],
                         ids=["builtin", "custom", "custom-guarded"])
def test_topic_scan_equals_plain_alternation(taxonomy):
    plain = _plain_tagger(taxonomy)
    rng = random.Random(3)
    words = [k for t in taxonomy.topics.values() for k in t.keywords if k != "*"] + [
        "the", "a", "[PHONE]", "45 min", "#1", "$12", "Co-Pay", "WAITING", "ab-cd", "-", "(call)", "x-ray"]
    salads = [" ".join(rng.choice(words) for _ in range(rng.randint(1, 12))) for _ in range(2000)]
    texts = analyse_texts(make_texts(2000, 5))[0] + salads + [None, ""]
    got = [taxonomy.tag(t) for t in texts]
    assert got == [plain(t) for t in texts]
    assert sum(bool(g) for g in got) > 3000


def test_parallel_equals_single_process_with_custom_taxonomy():
    tx = _custom()
    texts = make_texts(12_000, 9) + [None, "", "Call Maria Lopez at 617-555-0100"] * 10
    single = analyse_texts(texts, taxonomy=tx)
    assert analyse_texts_parallel(texts, workers=2, chunk=2_000, taxonomy=tx) == single
    assert analyse_texts_parallel(texts, workers=2) == analyse_texts(texts)
    assert single[0][-1] == "Call [NAME] at [PHONE]" and "star" in single[2][-1]  # scrubbed, then tagged
    assert sum("[" in c for c in single[0] if c) > 1_000  # workers sent back the scrubbed texts


def test_ingest_enrichment_uses_parallel_path_for_big_batches(make_project, monkeypatch):
    root = make_project({"journeys/care.yml": MINI_JOURNEY, "sources/s.yml": """\
        sources:
          - {name: post_survey, kind: survey, path: data/s.csv}
        """})
    project = load_project(root)
    texts = make_texts(6_000, 2)
    n = len(texts)
    table = pa.table({"feedback_id": pa.array([str(i) for i in range(n)]), "subject_key": pa.nulls(n, pa.string()),
                      "ts": pa.array([datetime(2026, 1, 1)] * n, pa.timestamp("us")),
                      "source": pa.array(["post_survey"] * n), "source_event": pa.nulls(n, pa.string()),
                      "touchpoint": pa.nulls(n, pa.string()), "text": pa.array(texts)})
    calls = []
    real = enrich.analyse_texts_parallel
    monkeypatch.setattr(enrich, "analyse_texts_parallel", lambda *a, **k: calls.append(len(a[0])) or real(*a, **k))
    monkeypatch.setattr(enrich, "_cpus", lambda: 2)
    monkeypatch.setattr(enrich, "PARALLEL_MIN", 10**9)
    single = enrich_feedback(project, table)
    assert calls == []
    monkeypatch.setattr(enrich, "PARALLEL_MIN", 5_000)
    assert enrich_feedback(project, table).equals(single)
    assert calls == [n]
