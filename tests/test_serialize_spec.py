"""EMResult <-> JSON for the extended model: gating, fixed coefficients, groups, weights."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats
from spec_helpers import TRUTH, extended_dataset, extended_em, extended_frame

from mlrbayes.em import fit_em
from mlrbayes.serialize import SPEC_FIELDS, em_from_dict, em_to_dict


@pytest.fixture(scope="module")
def frame():
    return extended_frame(n_groups=40, size=3, seed=3)


@pytest.fixture(scope="module")
def plain_em(frame):
    return fit_em(frame[["x"]], frame["y"], 2, sigma="shared", n_init=2, random_state=1)


def _with_spec(d: dict, data) -> dict:
    d = dict(d)
    d.update(
        gating_coef=TRUTH["gating"].tolist(),
        concomitant_names=list(data.concomitant_names),
        fixed_coef=TRUTH["fixed"].tolist(),
        fixed_names=list(data.fixed_names),
        n_groups=data.n_groups,
        group_labels=list(data.group_labels),
        weighted=True,
    )
    return d


def test_plain_result_writes_the_defaults_and_old_files_still_read(plain_em):
    d = em_to_dict(plain_em)
    assert {k: d[k] for k in SPEC_FIELDS} == SPEC_FIELDS
    json.dumps(d, allow_nan=False)
    old = {k: v for k, v in d.items() if k not in SPEC_FIELDS}  # a file from before issue 14
    back = em_from_dict(old)
    np.testing.assert_array_equal(back.coef, plain_em.coef)
    for key, default in SPEC_FIELDS.items():
        assert getattr(back, key, default) == default


def test_extended_round_trip_is_exact(frame):
    em, _ = extended_em(frame)
    text = json.dumps(em_to_dict(em), allow_nan=False)
    back = em_from_dict(json.loads(text))
    np.testing.assert_array_equal(back.gating_coef, em.gating_coef)
    np.testing.assert_array_equal(back.fixed_coef, em.fixed_coef)
    assert back.concomitant_names == ["(Intercept)", "w"]
    assert back.fixed_names == ["u"]
    assert back.n_groups == em.n_groups == 40
    assert back.group_labels == em.group_labels
    assert back.weighted is True
    assert back.param_names() == em.param_names()


def _reference_memberships(frame, params) -> np.ndarray:
    """Group memberships by explicit loops with scipy.stats (independent of likelihood.py)."""
    k = 2
    gamma = TRUTH["gating"]
    out = np.zeros((len(frame), k))
    for g, rows in frame.groupby("id").groups.items():
        sub = frame.loc[rows]
        eta = gamma[:, 0] + gamma[:, 1] * sub["w"].iloc[0]
        prior = np.exp(eta) / np.exp(eta).sum()
        dens = np.array(
            [
                np.prod(
                    stats.norm.pdf(
                        sub["y"],
                        params["intercept"][j]
                        + params["coef"][j][0] * sub["x"]
                        + TRUTH["fixed"][0] * sub["u"],
                        params["sigma"],
                    )
                )
                for j in range(k)
            ]
        )
        post = prior * dens / np.sum(prior * dens)
        out[np.asarray(rows)] = post
        del g
    return out


def test_memberships_recomputed_from_the_data_use_gating_groups_and_fixed(frame, plain_em):
    data = extended_dataset(frame)
    d = _with_spec(em_to_dict(plain_em, include_responsibilities=False), data)
    back = em_from_dict(d, data)
    ref = _reference_memberships(frame, d)
    np.testing.assert_allclose(back.responsibilities, ref, rtol=1e-9, atol=1e-12)
    # rows of one group share one membership
    r = back.responsibilities
    assert np.all(r[frame["id"].to_numpy() == 5] == r[frame["id"].to_numpy() == 5][0])


def test_recomputing_needs_the_extended_data(frame, plain_em):
    data = extended_dataset(frame)
    d = _with_spec(em_to_dict(plain_em, include_responsibilities=False), data)
    with pytest.raises(ValueError, match="has concomitant but the data given do not"):
        em_from_dict(d, frame[["x"]], frame["y"])


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("gating_coef", [[0.0, 1.0]], r"'gating_coef' must have shape \(2, 2\)"),
        ("gating_coef", [[0.0, None], [0.0, 1.0]], r"'gating_coef' has a null"),
        ("fixed_coef", [1.0, 2.0], r"'fixed_coef' must have shape \(1,\)"),
        ("fixed_names", "u", r"'fixed_names' must be a list of names"),
        ("n_groups", 7, r"'n_groups' = 7 must be >= 1 and match the 40"),
        ("weighted", "yes", r"'weighted' must be true or false"),
    ],
)
def test_bad_entries_are_refused_by_key(frame, plain_em, key, value, match):
    d = _with_spec(em_to_dict(plain_em), extended_dataset(frame))
    d[key] = value
    with pytest.raises(ValueError, match=match):
        em_from_dict(d)
