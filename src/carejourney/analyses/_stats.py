"""The statistics of the friction analyses, on small aggregates (pandas / numpy / scipy).

- Proportions: Wilson score intervals; difference of two proportions with Newcombe's hybrid
  score interval (method 10); a two-proportion z test (= Pearson chi-square without
  continuity correction), or Fisher's exact test when an expected cell is below 5.
- Delays arrive as log-scale histograms (see ``_steps.delay_bin``), so the Mann-Whitney U test
  is computed exactly *for the binned delays* (each bin is one tied value; normal approximation
  with tie correction — what ``scipy.stats.mannwhitneyu(method="asymptotic")`` gives on the
  expanded data). Medians are interpolated inside their bin; the interval on the ratio of
  medians is a percentile bootstrap that resamples each histogram (multinomial).
- Multiple testing: Benjamini-Hochberg adjusted p-values (what
  ``scipy.stats.false_discovery_control(method="bh")`` gives; tests compare the two).

Normal tail probabilities come from ``scipy.special.ndtr`` (what ``scipy.stats.norm.sf``
computes). ``scipy.stats`` takes ~0.4 s to import: it is loaded only for Fisher's exact test
(small expected counts), so that a report answered from kept results — whose journey map still
tests the targets — never pays for it.
"""

from __future__ import annotations

import math

import numpy as np

from ._steps import BINS_PER_DOUBLING

__all__ = ["wilson", "newcombe", "prop_test", "mw_binned", "hist_median", "hist_quantile",
           "ratio_ci", "bh", "bin_edges_hours"]

Z95 = 1.959963984540054


def _normal_sf(z: float) -> float:
    """P(Z > z) for a standard normal Z (``scipy.stats.norm.sf``)."""
    from scipy.special import ndtr
    return float(ndtr(-z))


def wilson(x: float, n: float, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for x successes in n trials."""
    if n <= 0:
        return (math.nan, math.nan)
    p = x / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return (max(0.0, centre - half), min(1.0, centre + half))


def newcombe(x1: float, n1: float, x2: float, n2: float, z: float = Z95) -> tuple[float, float, float]:
    """p1 - p2 with Newcombe's hybrid score interval (Newcombe 1998, method 10)."""
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson(x1, n1, z)
    l2, u2 = wilson(x2, n2, z)
    d = p1 - p2
    lo = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    hi = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return d, lo, hi


def prop_test(x1: int, n1: int, x2: int, n2: int) -> tuple[float, str]:
    """Two-sided p-value that two proportions differ, and the test used."""
    table = np.array([[x1, n1 - x1], [x2, n2 - x2]], dtype=float)
    total = table.sum()
    if total == 0 or n1 == 0 or n2 == 0:
        return math.nan, "none"
    expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / total
    if (expected < 5).any():
        from scipy import stats  # (here only: see the module docstring)
        return float(stats.fisher_exact(table.astype(int)).pvalue), "fisher"
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0, "z"
    zval = (x1 / n1 - x2 / n2) / se
    return 2 * _normal_sf(abs(zval)), "z"


def mw_binned(h1: np.ndarray, h2: np.ndarray) -> tuple[float, float]:
    """Mann-Whitney U of sample 1 vs 2 given counts per ordered bin; returns (U1, two-sided p)."""
    h1, h2 = np.asarray(h1, float), np.asarray(h2, float)
    n1, n2 = h1.sum(), h2.sum()
    if n1 == 0 or n2 == 0:
        return math.nan, math.nan
    below2 = np.concatenate([[0.0], np.cumsum(h2)[:-1]])
    u1 = float((h1 * (below2 + 0.5 * h2)).sum())
    n = n1 + n2
    t = h1 + h2
    tie = (t ** 3 - t).sum() / (n * (n - 1)) if n > 1 else 0.0
    var = n1 * n2 / 12.0 * ((n + 1) - tie)
    if var <= 0:
        return u1, 1.0
    zval = (u1 - n1 * n2 / 2.0) / math.sqrt(var)
    return u1, 2 * _normal_sf(abs(zval))


def bin_edges_hours(nbins: int) -> np.ndarray:
    """Lower edges (hours) of bins 0..nbins (bin i covers [edge i, edge i+1))."""
    return np.power(2.0, np.arange(nbins + 1) / BINS_PER_DOUBLING) - 1.0


def hist_quantile(h: np.ndarray, q: float) -> float:
    """Quantile (hours) of a binned sample, linear inside the bin. NaN for an empty histogram."""
    h = np.asarray(h, float)
    n = h.sum()
    if n <= 0:
        return math.nan
    edges = bin_edges_hours(len(h))
    cum = np.cumsum(h)
    target = q * n
    i = int(np.searchsorted(cum, target, side="left"))
    i = min(i, len(h) - 1)
    before = cum[i - 1] if i > 0 else 0.0
    frac = (target - before) / h[i] if h[i] > 0 else 0.0
    return float(edges[i] + frac * (edges[i + 1] - edges[i]))


def hist_median(h: np.ndarray) -> float:
    return hist_quantile(h, 0.5)


def _boot_medians(h: np.ndarray, reps: int, rng: np.random.Generator) -> np.ndarray:
    h = np.asarray(h, float)
    n = int(h.sum())
    samples = rng.multinomial(n, h / n, size=reps).astype(float)
    edges = bin_edges_hours(len(h))
    cum = np.cumsum(samples, axis=1)
    target = 0.5 * n
    idx = np.minimum((cum < target).sum(axis=1), len(h) - 1)
    before = np.where(idx > 0, cum[np.arange(reps), np.maximum(idx - 1, 0)], 0.0)
    inbin = samples[np.arange(reps), idx]
    frac = np.where(inbin > 0, (target - before) / np.where(inbin > 0, inbin, 1), 0.0)
    return edges[idx] + frac * (edges[idx + 1] - edges[idx])


def ratio_ci(h1: np.ndarray, h2: np.ndarray, reps: int = 400, seed: int = 0) -> tuple[float, float, float]:
    """Ratio of medians (1 / 2) with a 95% percentile-bootstrap interval."""
    m1, m2 = hist_median(h1), hist_median(h2)
    if not (m1 == m1 and m2 == m2) or m2 <= 0:
        return math.nan, math.nan, math.nan
    rng = np.random.default_rng(seed)
    b1, b2 = _boot_medians(h1, reps, rng), _boot_medians(h2, reps, rng)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = b1 / b2
    r = r[np.isfinite(r)]
    if not len(r):
        return m1 / m2, math.nan, math.nan
    lo, hi = np.quantile(r, [0.025, 0.975])
    return m1 / m2, float(lo), float(hi)


def bh(pvalues) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values; NaN (untested) stays NaN."""
    p = np.asarray(pvalues, float)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        # q_(i) = min over j >= i of p_(j) * m / j, p sorted ascending (Benjamini & Hochberg 1995)
        v = np.clip(p[ok], 0, 1)
        order = np.argsort(v, kind="stable")
        m = len(v)
        q = np.minimum.accumulate((v[order] * m / np.arange(1, m + 1))[::-1])[::-1]
        adjusted = np.empty(m)
        adjusted[order] = np.minimum(q, 1.0)
        out[ok] = adjusted
    return out
