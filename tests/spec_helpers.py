"""Extended-model fixtures for the spec-flow tests (gating, fixed coefficients, groups, weights)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from mlrbayes.em import EMResult, fit_em
from mlrbayes.spec import Dataset, resolve_dataset

#: The truth of :func:`extended_frame` (K = 2).
TRUTH = {
    "intercept": np.array([-2.0, 2.0]),
    "coef": np.array([[1.0], [-1.0]]),
    "sigma": 0.5,
    "gating": np.array([[-0.25, -1.0], [0.25, 1.0]]),  # centred: rows sum to 0
    "fixed": np.array([0.75]),
}


def extended_frame(n_groups: int = 60, size: int = 3, seed: int = 0) -> pd.DataFrame:
    """Grouped data from the gating + fixed model with the :data:`TRUTH`; columns y, x, w
    (gating covariate, constant within a group), u (fixed predictor), id, v (weights)."""
    rng = np.random.default_rng(seed)
    n = n_groups * size
    gid = np.repeat(np.arange(n_groups), size)
    w = np.repeat(rng.normal(size=n_groups), size)
    eta = TRUTH["gating"][:, 0] + np.outer(w, TRUTH["gating"][:, 1])
    p = np.exp(eta - eta.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    z_group = (rng.uniform(size=n_groups) < p[::size, 1]).astype(int)
    z = z_group[gid]
    x = rng.uniform(-2, 2, size=n)
    u = rng.normal(size=n)
    mean = TRUTH["intercept"][z] + TRUTH["coef"][z, 0] * x + TRUTH["fixed"][0] * u
    y = mean + TRUTH["sigma"] * rng.normal(size=n)
    v = np.repeat(rng.integers(1, 3, size=n_groups).astype(float), size)
    return pd.DataFrame({"y": y, "x": x, "w": w, "u": u, "id": gid, "v": v, "z": z})


def extended_dataset(df: pd.DataFrame) -> Dataset:
    return resolve_dataset("y ~ x", data=df, concomitant="~ w", fixed="~ u", groups="id",
                           weights="v")  # fmt: skip


def extended_em(df: pd.DataFrame) -> tuple[EMResult, Dataset]:
    """A plain EM fit of the data with the extended fields set to the truth (a constructed
    result: the report and serialisation layers only read its fields)."""
    data = extended_dataset(df)
    em = fit_em(df[["x"]], df["y"], 2, sigma="shared", n_init=3, random_state=0, order="intercept")
    em = dataclasses.replace(
        em,
        gating_coef=TRUTH["gating"].copy(),
        concomitant_names=list(data.concomitant_names),
        fixed_coef=TRUTH["fixed"].copy(),
        fixed_names=list(data.fixed_names),
        n_groups=data.n_groups,
        group_labels=list(data.group_labels),
        weighted=True,
        **_optional(
            group_codes=data.groups,  # present in the merged EMResult (its unit memberships)
            unit_weights=data.sample_weight[np.unique(data.groups, return_index=True)[1]],
        ),
    )
    return em, data


def _optional(**fields) -> dict:
    """The fields EMResult has (the merged result has more than spec14 names)."""
    have = {f.name for f in dataclasses.fields(EMResult)}
    return {k: v for k, v in fields.items() if k in have}
