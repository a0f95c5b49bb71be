"""validate at large n: EM on every row, the posterior on a stated random subsample."""

import json

import numpy as np
import pytest

from mlrbayes import simulate
from mlrbayes.em import fit_em
from mlrbayes.spec import as_dataset
from mlrbayes.uncertainty import standard_errors
from mlrbayes.workflow import POSTERIOR_MAX_ROWS, em_on_rows, subsample_size


def test_subsample_size_rules():
    assert subsample_size("auto", POSTERIOR_MAX_ROWS) is None
    assert subsample_size("auto", POSTERIOR_MAX_ROWS + 1) == POSTERIOR_MAX_ROWS
    assert subsample_size(None, 10**7) is None
    assert subsample_size(500, 1000) == 500
    assert subsample_size(5000, 1000) is None  # not fewer rows than the data: every row
    with pytest.raises(ValueError, match="posterior_subsample must be 'auto'"):
        subsample_size("half", 1000)
    with pytest.raises(ValueError, match="posterior_subsample"):
        subsample_size(0, 1000)


def test_em_on_rows_is_the_estimate_evaluated_on_the_rows():
    """Same parameters; log-likelihood = sum of the pointwise log densities of the rows;
    memberships of those rows; SEs = Louis SEs computed directly on them."""
    X, y, _ = simulate(4000, [0.4, 0.6], [0.0, 3.0], [[1.0], [-1.0]], 0.5, random_state=2)
    em = fit_em(X, y, 2, sigma="shared", n_init=2, random_state=0)
    rows = np.arange(0, 4000, 4)
    sub = as_dataset(X[rows], y[rows])
    view = em_on_rows(em, sub, "on a quarter of the rows")
    np.testing.assert_array_equal(view.coef, em.coef)
    assert view.n_samples == 1000 and view.notes[-1] == "on a quarter of the rows"
    np.testing.assert_allclose(view.loglik, em.score(X[rows], y[rows]) * 1000, rtol=1e-12)
    np.testing.assert_allclose(view.responsibilities, em.membership(X[rows], y[rows]))
    _, _, se = standard_errors(X[rows], y[rows], em)
    np.testing.assert_allclose(view.standard_errors["coef"], se["coef"], rtol=1e-12)
    # a quarter of the rows: SEs about twice the full data's (information is additive)
    ratio = view.standard_errors["coef"] / em.standard_errors["coef"]
    assert np.all((ratio > 1.6) & (ratio < 2.5)), ratio
    assert view.optima[0].loglik == pytest.approx(view.loglik, rel=1e-12)


@pytest.mark.slow
def test_validate_posterior_on_a_subsample_is_labelled(tmp_path):
    """posterior_subsample=600 of 2000 rows: EM estimate from all rows, the comparison on 600,
    and the report's JSON and Markdown say so."""
    from mlrbayes import validate
    from mlrbayes.report import write_report

    X, y, _ = simulate(2000, [0.4, 0.6], [0.0, 4.0], [[1.0], [-1.0]], 0.5, random_state=3)
    em_seed = int(np.random.SeedSequence(1).spawn(4)[0].generate_state(1)[0])  # validate's
    full = fit_em(X, y, 2, sigma="shared", n_init=3, random_state=em_seed)
    cmp = validate(X, y, 2, sigma="shared", n_init=3, random_state=1, draws=150, tune=150,
                   chains=2, progressbar=False, posterior_subsample=600)  # fmt: skip
    info = cmp.to_dict()["settings"]["posterior_subsample"]
    assert info["rows"] == 600 and info["of"] == 2000
    assert cmp.em.n_samples == 600
    # the all-rows EM optimum (validate may restart EM from a posterior mode and stop a
    # little elsewhere within tol): full-data log-likelihood within 1e-6 per row of the fit
    # on every row, intercepts within 1e-4 (a fit on 600 rows moves them by ~SE 0.03)
    assert abs(cmp.em.score(X, y) * 2000 - full.loglik) <= 1e-6 * 2000
    np.testing.assert_allclose(cmp.em.intercept, full.intercept, atol=1e-4)
    paths = write_report(cmp, tmp_path / "report")
    assert "posterior on a subsample" in paths["md"].read_text()
    assert "Posterior on a subsample" in paths["html"].read_text()
    saved = json.loads(paths["json"].read_text())
    assert saved["settings"]["posterior_subsample"]["rows"] == 600
