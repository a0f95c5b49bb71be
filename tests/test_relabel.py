"""Relabelling: injected permutations are recovered exactly; helpers follow the convention."""

from __future__ import annotations

import itertools

import arviz_base
import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from mlrbayes import likelihood as lik
from mlrbayes import permutations, relabel

K = 3
TRUTH = {
    "weights": np.array([0.25, 0.35, 0.40]),
    "intercept": np.array([-3.0, 0.0, 3.0]),
    "coef": np.array([[1.0], [-1.0], [0.5]]),
}
SIGMA = 0.5


@pytest.fixture
def draws(rng):
    """(2 chains, 300 draws) near the truth, each draw's labels shuffled by a known permutation."""
    n, chains, ndraw = 150, 2, 300
    X = rng.uniform(-2, 2, size=(n, 1))
    z = rng.choice(K, size=n, p=TRUTH["weights"])
    y = TRUTH["intercept"][z] + X[:, 0] * TRUTH["coef"][z, 0] + SIGMA * rng.standard_normal(n)
    w = TRUTH["weights"] + 0.02 * rng.standard_normal((chains, ndraw, K))
    w = np.abs(w) / np.abs(w).sum(-1, keepdims=True)
    b = TRUTH["intercept"] + 0.1 * rng.standard_normal((chains, ndraw, K))
    c = TRUTH["coef"] + 0.1 * rng.standard_normal((chains, ndraw, K, 1))
    s = SIGMA * np.exp(0.05 * rng.standard_normal((chains, ndraw, K)))
    injected = np.array([rng.permutation(K) for _ in range(chains * ndraw)])
    injected = injected.reshape(chains, ndraw, K)
    shuffled = {
        "weights": relabel.permute_array(w, injected, axis=2),
        "intercept": relabel.permute_array(b, injected, axis=2),
        "coef": relabel.permute_array(c, injected, axis=2),
        "sigma": relabel.permute_array(s, injected, axis=2),
    }
    probs = lik.responsibilities(
        X,
        y,
        shuffled["weights"],
        shuffled["intercept"],
        shuffled["coef"],
        shuffled["sigma"],
    )
    ref_probs = lik.responsibilities(X, y, *TRUTH.values(), SIGMA)
    return {
        "X": X,
        "y": y,
        "shuffled": shuffled,
        "injected": injected,
        "undo": relabel.invert_permutations(injected),
        "probs": probs,
        "ref_probs": ref_probs,
    }


# ----------------------------------------------------------------------------- conventions
def test_permute_array_convention(rng):
    a = rng.standard_normal((2, 4, K, 5))
    perms = np.array([rng.permutation(K) for _ in range(8)]).reshape(2, 4, K)
    out = relabel.permute_array(a, perms, axis=2)
    for c, d, j in itertools.product(range(2), range(4), range(K)):
        np.testing.assert_array_equal(out[c, d, j], a[c, d, perms[c, d, j]])
    # component axis last
    b = np.moveaxis(a, 2, -1)
    np.testing.assert_array_equal(relabel.permute_array(b, perms), np.moveaxis(out, 2, -1))


def test_invert_round_trip(rng):
    perms = np.array([rng.permutation(5) for _ in range(12)]).reshape(3, 4, 5)
    inv = relabel.invert_permutations(perms)
    a = rng.standard_normal((3, 4, 5))
    np.testing.assert_array_equal(
        relabel.permute_array(relabel.permute_array(a, perms, 2), inv, 2), a
    )


def test_best_permutations_matches_hungarian(rng):
    cost = rng.standard_normal((200, 4, 4))
    got = relabel.best_permutations(cost)
    for d in range(cost.shape[0]):
        _, cols = linear_sum_assignment(cost[d])
        assert cost[d, np.arange(4), got[d]].sum() == pytest.approx(
            cost[d, np.arange(4), cols].sum(), abs=1e-12
        )


# ----------------------------------------------------------------------------- case 1
def test_pivot_recovers_injected_permutations(draws):
    sh = draws["shuffled"]
    perms = relabel.pivot(
        sh["weights"], sh["intercept"], sh["coef"], sh["sigma"], reference=TRUTH | {"sigma": None}
    )
    assert perms.shape == (2, 300, K)
    np.testing.assert_array_equal(perms, draws["undo"])
    # relabelled draws are back in the truth's labelling
    back = relabel.permute_array(sh["intercept"], perms, axis=2)
    assert np.all(np.abs(back - TRUTH["intercept"]) < 1.0)


def test_pivot_uses_per_component_sigma():
    # Components identical except for their sd: only sigma can tell them apart.
    sig = np.array([[[1.0, 3.0]], [[3.0, 1.0]]])  # (chain=2, draw=1, K=2)
    same = np.full((2, 1, 2), 0.5)
    ref = {"weights": [0.5, 0.5], "intercept": [0.0, 0.0], "coef": [[1.0], [1.0]], "sigma": [1, 3]}
    perms = relabel.pivot(same, np.zeros((2, 1, 2)), np.ones((2, 1, 2, 1)), sig, reference=ref)
    np.testing.assert_array_equal(perms[:, 0], [[0, 1], [1, 0]])


def test_stephens_recovers_injected_permutations(draws):
    perms, n_iter = relabel.stephens(
        draws["probs"], reference=draws["ref_probs"], return_n_iter=True
    )
    np.testing.assert_array_equal(perms, draws["undo"])
    assert n_iter <= 5
    # Without a reference the output is labelled like the first draw: the composition of the
    # injected shuffle and the found relabelling is one and the same permutation everywhere.
    perms0 = relabel.stephens(draws["probs"])
    composite = relabel.permute_array(draws["injected"], perms0, axis=2)
    assert np.unique(composite.reshape(-1, K), axis=0).shape[0] == 1
    np.testing.assert_array_equal(perms0[0, 0], np.arange(K))


def test_ecr_recovers_injected_permutations_from_probabilities(draws):
    perms = relabel.ecr_iterative(draws["probs"], reference=draws["ref_probs"])
    np.testing.assert_array_equal(perms, draws["undo"])
    perms0 = relabel.ecr_iterative(draws["probs"])
    composite = relabel.permute_array(draws["injected"], perms0, axis=2)
    assert np.unique(composite.reshape(-1, K), axis=0).shape[0] == 1


def test_ecr_recovers_injected_permutations_from_allocations(draws, rng):
    # Sample one allocation per draw from its membership probabilities (well separated lines:
    # most observations are certain, so the agreement with the pivot is decisive).
    p = draws["probs"]
    u = rng.random(p.shape[:-1])[..., None]
    z = (u > np.cumsum(p, axis=-1)).sum(-1)
    pivot_alloc = np.argmax(draws["ref_probs"], axis=-1)
    perms = relabel.ecr_iterative(z, K, reference=pivot_alloc)
    np.testing.assert_array_equal(perms, draws["undo"])


def test_methods_are_deterministic(draws):
    a = relabel.stephens(draws["probs"])
    b = relabel.stephens(draws["probs"].copy())
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(
        relabel.ecr_iterative(draws["probs"]), relabel.ecr_iterative(draws["probs"])
    )


def test_large_k_falls_back_to_hungarian(rng, monkeypatch):
    k = 7
    ref = {"weights": np.full(k, 1 / k), "intercept": 3.0 * np.arange(k), "coef": np.zeros((k, 1))}
    b = ref["intercept"] + 0.1 * rng.standard_normal((2, 10, k))
    inj = np.array([rng.permutation(k) for _ in range(20)]).reshape(2, 10, k)
    bp = relabel.permute_array(b, inj, 2)
    w = np.full((2, 10, k), 1 / k)
    c = np.zeros((2, 10, k, 1))
    got = relabel.pivot(w, bp, c, reference=ref)
    np.testing.assert_array_equal(got, relabel.invert_permutations(inj))
    monkeypatch.setattr(permutations, "ENUMERATE_MAX_K", 8)  # exhaustive path gives the same answer
    np.testing.assert_array_equal(relabel.pivot(w, bp, c, reference=ref), got)


def test_stephens_warns_when_not_settled(draws):
    with pytest.warns(relabel.RelabellingWarning, match="max_iter=1"):
        relabel.stephens(draws["probs"], max_iter=1)


# ----------------------------------------------------------------------------- DataTree
def _tree(rng, sigma_per_component: bool):
    post = {
        "weights": rng.dirichlet(np.ones(K), size=(2, 6)),
        "intercept": rng.standard_normal((2, 6, K)),
        "coef": rng.standard_normal((2, 6, K, 2)),
    }
    dims = {
        "weights": ["component"],
        "intercept": ["component"],
        "coef": ["component", "feature"],
    }
    if sigma_per_component:
        post["sigma"] = rng.random((2, 6, K))
        dims["sigma"] = ["component"]
    else:
        post["sigma"] = rng.random((2, 6))
    return arviz_base.from_dict(
        {
            "posterior": post,
            "constant_data": {"X": rng.random((4, 2))},
            "observed_data": {"y": rng.random(4)},
        },
        dims=dims | {"X": ["obs", "feature"], "y": ["obs"]},
        coords={"component": np.arange(K), "feature": ["a", "b"]},
    )


@pytest.mark.parametrize("per_component", [False, True])
def test_apply_permutations_datatree(rng, per_component):
    dt = _tree(rng, per_component)
    before = {v: dt.posterior[v].values.copy() for v in dt.posterior.data_vars}
    perms = np.array([rng.permutation(K) for _ in range(12)]).reshape(2, 6, K)
    out = relabel.apply_permutations(dt, perms)
    for v in ("weights", "intercept"):
        np.testing.assert_array_equal(
            out.posterior[v].values, relabel.permute_array(before[v], perms, 2)
        )
    np.testing.assert_array_equal(
        out.posterior["coef"].values, relabel.permute_array(before["coef"], perms, 2)
    )
    expected_sigma = (
        relabel.permute_array(before["sigma"], perms, 2) if per_component else before["sigma"]
    )
    np.testing.assert_array_equal(out.posterior["sigma"].values, expected_sigma)
    assert out.posterior["coef"].dims == ("chain", "draw", "component", "feature")
    assert list(out.posterior["feature"].values) == ["a", "b"]
    assert out.posterior.attrs["relabelled"] == 1
    # input untouched; other groups carried over
    for v, arr in before.items():
        np.testing.assert_array_equal(dt.posterior[v].values, arr)
    np.testing.assert_array_equal(out.constant_data["X"].values, dt.constant_data["X"].values)


# ----------------------------------------------------------------------------- bad input
def test_bad_permutations_are_rejected(rng):
    dt = _tree(rng, False)
    with pytest.raises(ValueError, match=r"not a permutation of 0\.\.2"):
        relabel.apply_permutations(dt, np.zeros((2, 6, K), dtype=int))
    with pytest.raises(ValueError, match=r"batch shape \(2, 6\)"):
        relabel.apply_permutations(dt, np.tile(np.arange(K), (2, 5, 1)))
    with pytest.raises(TypeError, match="integer array"):
        relabel.apply_permutations(dt, np.tile(np.arange(K), (2, 6, 1)).astype(float))
    with pytest.raises(TypeError, match="DataTree"):
        relabel.apply_permutations({"posterior": 1}, np.tile(np.arange(K), (2, 6, 1)))


def test_bad_probabilities_and_references_are_rejected():
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\]"):
        relabel.stephens(np.full((2, 3, 4, 2), 1.5))
    with pytest.raises(ValueError, match=r"shape \(n, K\) = \(4, 2\)"):
        relabel.stephens(np.full((2, 3, 4, 2), 0.5), reference=np.full((3, 2), 0.5))
    with pytest.raises(ValueError, match="reference weights have shape"):
        relabel.pivot(np.full((2, 3), 0.5), reference={"weights": [1.0]})
    with pytest.raises(TypeError, match="integer labels"):
        relabel.ecr_iterative(np.array(["a", "b"]))
    with pytest.raises(ValueError, match="n_components=2"):
        relabel.ecr_iterative(np.array([[0, 1, 2]]), 2)
