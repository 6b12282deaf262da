"""The friction statistics computed without importing scipy.stats equal scipy.stats' own."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs
from scipy import stats

from carejourney.analyses import _stats as st
from carejourney.analyses.targets import _binomtest

P = hs.floats(min_value=0.0, max_value=1.0, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(hs.lists(hs.one_of(P, hs.sampled_from([0.0, 0.01, 0.05, 1.0])), min_size=1, max_size=40))
def test_bh_equals_scipy_false_discovery_control(ps):
    assert np.allclose(st.bh(ps), stats.false_discovery_control(ps, method="bh"), rtol=1e-12, atol=0)


def test_bh_keeps_untested_as_nan_and_adjusts_the_rest_among_themselves():
    q = st.bh([0.01, np.nan, 0.04, 0.03])
    assert np.isnan(q[1])
    assert np.allclose(q[[0, 2, 3]], stats.false_discovery_control([0.01, 0.04, 0.03], method="bh"))


@settings(max_examples=200, deadline=None)
@given(hs.integers(0, 5000), hs.integers(1, 5000), hs.floats(min_value=0.001, max_value=0.999))
def test_the_targets_binomial_test_equals_scipy_binomtest(x, n, p0):
    x = min(x, n)
    assert _binomtest(x, n, p0) == pytest.approx(stats.binomtest(x, n, p0, alternative="less").pvalue,
                                                 rel=1e-6, abs=1e-300)  # (ulp-level differences far in the tail)


@settings(max_examples=200, deadline=None)
@given(hs.integers(20, 5000), hs.integers(20, 5000), hs.floats(0.05, 0.95), hs.floats(0.05, 0.95))
def test_the_two_proportion_z_test_equals_the_uncorrected_chi_square(n1, n2, r1, r2):
    x1, x2 = round(n1 * r1), round(n2 * r2)
    p, test = st.prop_test(x1, n1, x2, n2)
    table = np.array([[x1, n1 - x1], [x2, n2 - x2]])
    if test == "z":
        assert p == pytest.approx(stats.chi2_contingency(table, correction=False).pvalue, rel=1e-6, abs=1e-300)
    else:
        assert test == "fisher" and p == pytest.approx(stats.fisher_exact(table).pvalue)


def test_the_binned_mann_whitney_p_value_equals_scipy():
    h1, h2 = np.array([3, 0, 5, 2, 7]), np.array([1, 4, 4, 6, 0])
    ref = stats.mannwhitneyu(np.repeat(np.arange(5), h1), np.repeat(np.arange(5), h2), method="asymptotic",
                             use_continuity=False)
    assert st.mw_binned(h1, h2)[1] == pytest.approx(ref.pvalue, rel=1e-12)
