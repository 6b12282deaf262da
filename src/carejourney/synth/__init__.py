"""Seeded synthetic health-system exports with planted frictions and a scored truth.

:func:`synthesize` draws ``people`` people, walks each through the care journey (calibrated to
published figures, see docs/synthetic-data.md), and writes the raw exports of docs/raw-formats.md
under ``out_dir`` (web/, crm/, calls/, fhir/, portal/, surveys/, reviews/) plus ``truth.json``
and ``truth/people.parquet``. People are generated in chunks of :data:`CHUNK` with a random
stream seeded by ``(seed, chunk number)``, so the same seed gives byte-identical files whatever
the number of worker processes, and memory stays bounded.
"""

from __future__ import annotations

import gc
import json
import os
import random
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import SpecError
from .frictions import Frictions
from .population import epoch, make_chunk
from .records import Sink, set_timezone
from .scenario import Scenario, load_scenario
from .truth import build_truth
from .walk import Walker
from .writers import RawWriters, serialise

__all__ = ["synthesize", "SynthSummary", "load_scenario", "Scenario", "CHUNK"]

CHUNK = 10_000


@dataclass
class SynthSummary:
    out_dir: Path
    people: int
    seed: int
    files: dict[str, int]
    truth_path: Path
    frictions: list[str] = field(default_factory=list)

    @property
    def raw_records(self) -> int:
        return sum(self.files.values())


def _add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    return date(d.year + y, m + 1, d.day)


def _chunk_job(args):
    sc, seed, k, first, n, t_start, t_first_end, t_end, backbone = args
    set_timezone(sc.timezone)
    rng = np.random.default_rng([seed, k])
    chunk = make_chunk(rng, sc, first, n, t_start, t_first_end)
    rnd = random.Random(int(rng.integers(0, 2**62)))
    sink = Sink(t_end)
    fr = Frictions(sc)
    w = Walker(sc, rnd, sink, fr, t_end, backbone)
    cols = chunk.cols
    keys = list(cols)
    enabled = gc.isenabled()
    gc.disable()  # the walk allocates many short-lived containers and no cycles worth collecting
    try:
        for i in range(n):
            w.person({key: cols[key][i] for key in keys})
    finally:
        if enabled:
            gc.enable()
    data, counts, people = serialise(sink)
    return data, counts, people, fr.tally, dict(w.cal), w.waits


def synthesize(out_dir: str | Path, *, people: int = 20_000, seed: int = 0, scenario: Scenario | str | Path | None = None,
               fhir_backbone: str | Path | None = None, start: date | None = None, months: int | None = None,
               workers: int | None = None, progress: Callable[[int], None] | None = None) -> SynthSummary:
    """Generate ``people`` people's raw exports under ``out_dir``; returns what was written.

    ``scenario`` is a :class:`Scenario`, a YAML path merged over the defaults, ``"none"`` (no
    planted frictions) or None (the defaults). ``start``/``months`` override the scenario's window.
    ``progress`` is called with the number of people finished after each chunk.
    """
    if people < 1:
        raise SpecError(f"--people must be at least 1 (got {people})")
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    if start is not None or months is not None:
        sc = sc.model_copy(update={k: v for k, v in (("start", start), ("months", months)) if v is not None})
    backbone = None
    if fhir_backbone is not None:
        from .fhir_backbone import Backbone
        backbone = Backbone.load(Path(fhir_backbone))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t_start, t_end = epoch(sc.start), epoch(_add_months(sc.start, sc.months))
    t_first_end = max(t_start + 86400, t_end - 30 * 86400)
    jobs = [(sc, seed, k, first, min(CHUNK, people - first), t_start, t_first_end, t_end, backbone)
            for k, first in enumerate(range(0, people, CHUNK))]
    writers = RawWriters(out)
    fr = Frictions(sc)
    cal: dict[str, float] = {}
    waits: dict[str, list] = {}
    done = 0
    n_workers = workers if workers is not None else (min(os.cpu_count() or 1, 4) if len(jobs) > 2 else 1)
    try:
        if n_workers > 1:
            from concurrent.futures import ProcessPoolExecutor
            import multiprocessing as mp
            with ProcessPoolExecutor(n_workers, mp_context=mp.get_context("spawn")) as ex:
                results = ex.map(_chunk_job, jobs, chunksize=1)
                for job, res in zip(jobs, results):
                    done += job[4]
                    _collect(res, writers, fr, cal, waits)
                    if progress:
                        progress(done)
        else:
            for job in jobs:
                _collect(_chunk_job(job), writers, fr, cal, waits)
                done += job[4]
                if progress:
                    progress(done)
    finally:
        files = writers.close()
    waits = {sl: np.concatenate(a).astype(float).tolist() for sl, a in waits.items()}
    truth = build_truth(sc, fr, cal, waits, seed=seed, people=people, files=files,
                        start=sc.start.isoformat(), end=_add_months(sc.start, sc.months).isoformat())
    if backbone is not None:
        truth["fhir_backbone"] = {"bundles": backbone.bundles, "encounter_templates": len(backbone.pool)}
    truth_path = out / "truth.json"
    truth_path.write_text(json.dumps(truth, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return SynthSummary(out, people, seed, files, truth_path, [f.id for f in sc.frictions])


def _collect(res, writers: RawWriters, fr: Frictions, cal: dict, waits: dict) -> None:
    data, counts, people, tallies, c, w = res
    writers.append(data, counts, people)
    for fid, t in tallies.items():
        fr.tally[fid].merge(t)
    for k, v in c.items():
        cal[k] = cal.get(k, 0.0) + v
    by_sl: dict[str, list[float]] = {}
    for sl, d in w:
        by_sl.setdefault(sl, []).append(d)
    for sl, d in by_sl.items():  # compact arrays keep the parent's memory bounded
        waits.setdefault(sl, []).append(np.asarray(d, dtype=np.float32))
