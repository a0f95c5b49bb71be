"""resample.align_to against a brute-force reading of its documented cost."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import numpy as np

from mlrbayes.resample import align_to


def _fit(rng, k, p, se_scale):
    return SimpleNamespace(
        n_components=k,
        weights=rng.dirichlet(np.ones(k)),
        intercept=rng.normal(size=k),
        coef=rng.normal(size=(k, p)),
        sigma=rng.uniform(0.5, 2.0, size=k),
        standard_errors={
            "weights": rng.uniform(0.01, 0.1, size=k) * se_scale,
            "intercept": rng.uniform(0.01, 1.0, size=k) * se_scale,  # very unequal per component
            "coef": rng.uniform(0.01, 1.0, size=(k, p)) * se_scale,
            "sigma": rng.uniform(0.01, 0.5, size=k) * se_scale,
        },
    )


def _matrix(f):
    return np.column_stack([f.intercept, f.coef, f.sigma, f.weights])


def _se(f):
    se = f.standard_errors
    return np.column_stack([se["intercept"], se["coef"], se["sigma"], se["weights"]])


def test_align_to_scales_by_the_reference_component():
    """200 random reference fits with per-component SEs differing up to 100x, and refits that are
    the reference permuted plus noise: align_to returns the permutation minimising
    sum_j sum_m ((ref[j, m] - new[perm[j], m]) / se_ref[j, m])^2, found here by enumerating all
    K! permutations."""
    rng = np.random.default_rng(0)
    for _ in range(200):
        k = int(rng.integers(2, 5))
        ref = _fit(rng, k, 2, 1.0)
        order = rng.permutation(k)
        noise = rng.normal(scale=0.3, size=(k, 4))
        new = SimpleNamespace(
            n_components=k,
            intercept=ref.intercept[order] + noise[:, 0],
            coef=ref.coef[order] + noise[:, 1:3],
            sigma=ref.sigma[order] * np.exp(0.1 * noise[:, 3]),
            weights=ref.weights[order],
        )
        r, nm, se = _matrix(ref), _matrix(new), _se(ref)
        best = min(
            itertools.permutations(range(k)),
            key=lambda pm: float(np.sum(((r - nm[list(pm)]) / se) ** 2)),
        )
        np.testing.assert_array_equal(align_to(new, ref), np.array(best))
