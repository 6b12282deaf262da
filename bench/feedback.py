"""Benchmark: feedback texts scrubbed, scored (VADER) and tagged per second.

    python bench/feedback.py [--n 1000000] [--workers 2] [--seed 1]

Texts are generated from patient-feedback templates (complaints and praise across the topic
taxonomy; about one in five carries an identifier to scrub: a name, phone, email, date or
address). Reports texts/s for one process on a sample and for ``--workers`` processes on all
``--n`` texts, by wall clock and by CPU time (on a shared machine the wall clock mostly measures
the other tenants; CPU time gives what one idle core does). Then checks, untimed, that the
sentiments equal vaderSentiment's own ``polarity_scores`` (+ the healthcare lexicon) on the
first 10,000 texts. Results go in docs/benchmarks.md ("Feedback scoring").
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import resource
import time

from carejourney.voice.enrich import analyse_texts, analyse_texts_parallel

OPENERS = ["", "Honestly, ", "Overall ", "I have to say ", "Second visit. ", "Not happy. ", "Great news: "]
BODIES = [
    "the wait was far too long and nobody explained the delay",
    "the front desk staff were friendly and helpful",
    "I got a surprise bill and the price was never clear",
    "nobody called me back after I left two messages",
    "parking was impossible and the signs were confusing",
    "the doctor listened and explained everything clearly",
    "my insurance was denied because of prior authorization",
    "the portal would not let me log in to see my results",
    "I did not get clear instructions on next steps after discharge",
    "booking online was quick and easy",
    "the interpreter was late so my visit was rushed",
    "the waiting room was clean and quiet",
    "they talked about my diagnosis in front of everyone",
]
CLOSERS = ["", ".", "!", ". Thank you.", ". Will not come back.", ". Five stars.", ". Please fix this."]
IDENTIFIERS = [" Call me at 617-555-01{n:02d}.", " My name is Maria Lopez.", " Email jdoe{n}@example.com.",
               " Seen on 03/{d:02d}/2026.", " I live at {n}12 Lockman Row.", " Dr. Koepp was great."]


def make_texts(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        t = rng.choice(OPENERS) + rng.choice(BODIES) + rng.choice(CLOSERS)
        if rng.random() < 0.35:
            t += " Also, " + rng.choice(BODIES) + "."
        if rng.random() < 0.2:
            t += rng.choice(IDENTIFIERS).format(n=i % 100, d=1 + i % 28)
        out.append(t[0].upper() + t[1:])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--sample", type=int, default=100_000, help="texts for the single-process measurement")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    texts = make_texts(args.n, args.seed)
    analyse_texts(texts[:100])  # warm up: name lists, lexicon, regexes
    sample = texts[: min(args.sample, args.n)]
    t0, c0 = time.perf_counter(), time.process_time()
    analyse_texts(sample)
    single_wall = len(sample) / (time.perf_counter() - t0)
    single_cpu = len(sample) / (time.process_time() - c0)

    def cpu_all() -> float:
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.process_time() + kids.ru_utime + kids.ru_stime

    t0, c0 = time.perf_counter(), cpu_all()
    clean, sent, topics = analyse_texts_parallel(texts, workers=args.workers)
    elapsed, cpu = time.perf_counter() - t0, cpu_all() - c0
    assert len(clean) == len(sent) == len(topics) == args.n
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"1 process : {single_wall:,.0f} texts/s wall, {single_cpu:,.0f} texts per CPU-second "
          f"({len(sample):,} texts)")
    print(f"{args.workers} processes: {args.n / elapsed:,.0f} texts/s wall ({args.n:,} texts in {elapsed:.1f} s); "
          f"{args.n / cpu:,.0f} texts per CPU-second -> {args.workers * args.n / cpu:,.0f} texts/s "
          f"on {args.workers} idle cores")
    print(f"tagged: {sum(bool(t) for t in topics) / args.n:.0%} of texts have a topic; "
          f"scrubbed: {sum('[' in c for c in clean) / args.n:.0%} contain a placeholder")
    # the fast VADER path must give vaderSentiment's own number (not timed)
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    from carejourney.voice.scoring import HEALTHCARE_LEXICON
    plain = SentimentIntensityAnalyzer()
    plain.lexicon.update(HEALTHCARE_LEXICON)
    k = min(args.n, 10_000)
    same = sum(plain.polarity_scores(c)["compound"] == s for c, s in zip(clean[:k], sent[:k]))
    print(f"checked: {same:,} of {k:,} sentiments equal vaderSentiment's polarity_scores")


if __name__ == "__main__":
    main()
