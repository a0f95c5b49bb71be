"""The Dask engine (mlrbayes.em.dask_engine): the in-memory answer, lazily where rows are."""

import json

import numpy as np
import pandas as pd
import pytest

da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")

from mlrbayes import simulate  # noqa: E402
from mlrbayes.em import fit_em  # noqa: E402
from mlrbayes.em.dask_engine import START_ROWS, DaskEngine, dask_inputs  # noqa: E402
from mlrbayes.em.result import NumericalWarning  # noqa: E402

#: Relative agreement of a Dask fit with the in-memory fit from the same starts (the brief's
#: 1e-8; the two differ only in the order of floating-point sums).
RTOL = 1e-8


@pytest.fixture(scope="module")
def data():
    X, y, _ = simulate(2400, [0.4, 0.6], [0.0, 2.0], [[1.0, 0.5], [-1.0, 0.2]], 0.6,
                       random_state=1)  # fmt: skip
    return X, y


def _fit(X, y, **kw):
    base = dict(sigma="shared", n_init=4, random_state=3, tol=1e-14, accelerate="squarem")
    return fit_em(X, y, 2, **{**base, **kw})


def _assert_same_fit(a, b):
    """Parameters, log-likelihood, every start's log-likelihood, SEs: equal to RTOL relative
    to the size of each parameter vector (an intercept near 0 is a difference of large
    numbers, so elementwise relative error means nothing there)."""
    for name in ("weights", "intercept", "coef", "sigma"):
        want = np.asarray(getattr(a, name))
        np.testing.assert_allclose(getattr(b, name), want, rtol=RTOL,
                                   atol=RTOL * np.max(np.abs(want)), err_msg=name)  # fmt: skip
    np.testing.assert_allclose(b.loglik, a.loglik, rtol=RTOL)
    np.testing.assert_allclose([s.loglik for s in b.starts], [s.loglik for s in a.starts],
                               rtol=RTOL)  # fmt: skip
    assert [o.count for o in b.optima] == [o.count for o in a.optima]
    for key in a.standard_errors:
        np.testing.assert_allclose(b.standard_errors[key], a.standard_errors[key], rtol=1e-6)


@pytest.mark.parametrize("mode", ["shared", "component"])
def test_dask_equals_in_memory_threaded(data, mode):
    """The default threaded scheduler, 4 row blocks: the in-memory answer from the same
    starts (n < START_ROWS, so the start strategies see every row)."""
    X, y = data
    assert len(y) < START_ROWS
    mem = _fit(X, y, sigma=mode)
    lazy = _fit(da.from_array(X, chunks=(700, 2)), da.from_array(y, chunks=700), sigma=mode)
    _assert_same_fit(mem, lazy)
    assert isinstance(lazy.responsibilities, da.Array)
    # probabilities in [0, 1]: parameters equal to ~1e-8 move them by up to ~1e-8 as well
    np.testing.assert_allclose(lazy.responsibilities.compute(), mem.responsibilities, atol=1e-7)
    np.testing.assert_allclose(lazy.icl, mem.icl, rtol=RTOL)


def test_dask_plain_em_equals_in_memory(data):
    """accelerate=None on both: the same plain-EM iterations (same iteration counts)."""
    X, y = data
    mem = _fit(X, y, accelerate=None, tol=1e-10)
    lazy = _fit(da.from_array(X, chunks=(500, 2)), da.from_array(y, chunks=500), accelerate=None,
                tol=1e-10)  # fmt: skip
    _assert_same_fit(mem, lazy)
    assert [s.n_iter for s in lazy.starts] == [s.n_iter for s in mem.starts]


def test_dask_dataframe_and_local_cluster(data):
    """A Dask DataFrame (column names kept) on a dask.distributed LocalCluster with 2
    workers (threads, one each): the in-memory answer."""
    distributed = pytest.importorskip("distributed")
    X, y = data
    frame = pd.DataFrame(X, columns=["dose", "age"]).assign(resp=y)
    ddf = dd.from_pandas(frame, npartitions=3)
    mem = _fit(frame[["dose", "age"]], frame["resp"])
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as cluster,  # fmt: skip
        distributed.Client(cluster),
    ):
        lazy = _fit(ddf[["dose", "age"]], ddf["resp"])
        resp_sum = lazy.responsibilities.sum(axis=0).compute()
    _assert_same_fit(mem, lazy)
    assert lazy.feature_names == ["dose", "age"] and lazy.target_name == "resp"
    np.testing.assert_allclose(resp_sum, mem.responsibilities.sum(axis=0), rtol=1e-8)


def test_one_pass_serves_every_start(data):
    """Multi-start batching: the passes over the data equal the longest start's passes (plus
    the census' density comparisons), not the sum over starts."""
    X, y = data
    Xd, yd, _, _ = dask_inputs(da.from_array(X, chunks=(600, 2)), da.from_array(y, chunks=600))
    from mlrbayes.em import dask_engine

    made = []
    real = dask_engine.DaskEngine

    class Counting(real):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            made.append(self)

    dask_engine.DaskEngine = Counting
    try:
        res = _fit(Xd, yd, compute_se=False, n_init=5)
    finally:
        dask_engine.DaskEngine = real
    per_start = [s.n_iter + 1 for s in res.starts]
    assert made[0].n_passes < sum(per_start)
    assert made[0].n_passes >= max(per_start)


def test_lazy_predictions_match(data):
    """predict_proba, membership, predict, predict_components and predict_interval return lazy
    dask arrays equal to the in-memory predictions of the same fit."""
    X, y = data
    res = _fit(X, y, compute_se=False)
    Xd, yd = da.from_array(X, chunks=(1000, 2)), da.from_array(y, chunks=1000)
    for name, args, kw in [
        ("predict_proba", (Xd,), {}),
        ("membership", (Xd, yd), {}),
        ("predict", (Xd,), {}),
        ("predict", (Xd,), {"component": 1}),
        ("predict_components", (Xd,), {}),
        ("predict_interval", (Xd,), {"level": 0.9}),
    ]:
        got = getattr(res, name)(*args, **kw)
        assert isinstance(got, da.Array), name
        want = getattr(res, name)(X, *([y] if len(args) == 2 else []), **kw)
        # bisection (predict_interval) stops per block: agreement to its tolerance, 1e-12 * 10
        np.testing.assert_allclose(got.compute(), want, rtol=1e-12, atol=1e-11, err_msg=name)
    with pytest.raises(ValueError, match="component must be an integer"):
        res.predict(Xd, component=5)
    with pytest.raises(ValueError, match="X has 1 columns but the model was fitted with 2"):
        res.predict_proba(Xd[:, :1])


def test_constant_predictor_and_known_sigma(data):
    """A constant column is dropped (warning, coefficient 0, SE NaN) and known sigma works:
    the in-memory answer."""
    X, y = data
    Xc = np.column_stack([X, np.full(len(y), 3.0)])
    with pytest.warns(NumericalWarning, match="constant"):
        mem = _fit(Xc, y, sigma=0.6)
    with pytest.warns(NumericalWarning, match="constant"):
        lazy = _fit(da.from_array(Xc, chunks=(800, 3)), da.from_array(y, chunks=800), sigma=0.6)
    _assert_same_fit(mem, lazy)
    assert np.all(lazy.coef[:, 2] == 0) and np.all(np.isnan(lazy.standard_errors["coef"][:, 2]))


def test_bad_dask_input(data):
    X, y = data
    Xd, yd = da.from_array(X, chunks=(800, 2)), da.from_array(y, chunks=800)
    bad = X.copy()
    bad[5, 1] = np.nan
    with pytest.raises(ValueError, match="1 row\\(s\\) with NaN or infinite values"):
        _fit(da.from_array(bad, chunks=(800, 2)), yd)
    with pytest.raises(ValueError, match="X has 2400 rows but y has 2399"):
        _fit(Xd, yd[1:])
    with pytest.raises(ValueError, match="not supported with Dask input"):
        from mlrbayes.em.dask_engine import fit_em_dask

        fit_em_dask(Xd, yd, 2, sigma="shared", groups=np.arange(2400))
    with pytest.raises(ValueError, match="n_components"):
        _fit(Xd[:3], yd[:3], n_init=1)
    huge = y.copy()
    huge[7] = 1e200
    with pytest.raises(ValueError, match="overflow"):
        _fit(Xd, da.from_array(huge, chunks=800))
    extreme = y.copy()
    extreme[7] = 1e14
    with pytest.raises(ValueError, match="median absolute deviations"):
        _fit(Xd, da.from_array(extreme, chunks=800))


def test_large_n_uses_a_start_sample():
    """n > START_ROWS: the starts come from a sample, the EM runs on every row, and the fit
    recovers the truth (intercepts within 0.05, 10 SEs of n = 1.2e5 are ~0.02) with the
    log-likelihood of the in-memory fit started at the Dask estimate (to 1e-8)."""
    n = START_ROWS + 20_000
    X, y, _ = simulate(n, [0.5, 0.5], [0.0, 3.0], [[1.0], [-1.0]], 0.5, random_state=7)
    lazy = fit_em(da.from_array(X, chunks=(40_000, 1)), da.from_array(y, chunks=40_000), 2,
                  sigma="shared", n_init=2, random_state=0, compute_se=False)  # fmt: skip
    np.testing.assert_allclose(np.sort(lazy.intercept), [0.0, 3.0], atol=0.05)
    mem = fit_em(X, y, 2, sigma="shared", n_init=1, init=lazy, max_iter=1, compute_se=False)
    np.testing.assert_allclose(mem.loglik_trace[0], lazy.loglik, rtol=1e-8)


def test_engine_rows_are_lazy(data):
    """pointwise_loglik and responsibilities are dask arrays with the row chunks of X."""
    X, y = data
    Xd, yd, _, _ = dask_inputs(da.from_array(X, chunks=(700, 2)), da.from_array(y, chunks=700))
    res = _fit(X, y, compute_se=False)
    from mlrbayes.em.dask_engine import Moments, scaling_from_moments

    sc = scaling_from_moments(Moments.of_block(X, y), True)
    eng = DaskEngine(Xd, yd, 2, sc)
    B, s = sc.to_std(res.intercept, res.coef, np.full(2, res.sigma))
    ll = eng.pointwise_loglik(B, res.weights, s)
    assert isinstance(ll, da.Array) and ll.chunks[0] == Xd.chunks[0]
    n = len(y)
    np.testing.assert_allclose(float(ll.sum().compute()) - n * np.log(sc.y_scale), res.loglik,
                               rtol=1e-10)  # fmt: skip


# ----------------------------------------------------------------------------- CLI
@pytest.fixture(scope="module")
def files(tmp_path_factory, data):
    """The data as 3 Parquet files, as 2 CSV files, and as one CSV."""
    pytest.importorskip("pyarrow")
    X, y = data
    root = tmp_path_factory.mktemp("dask_cli")
    frame = pd.DataFrame({"dose": X[:, 0], "age": X[:, 1], "resp": y})
    (root / "pq").mkdir()
    (root / "csvs").mkdir()
    for i, a in enumerate(range(0, len(frame), 800)):
        frame.iloc[a : a + 800].to_parquet(root / "pq" / f"part{i}.parquet")
    for i, a in enumerate(range(0, len(frame), 1200)):
        frame.iloc[a : a + 1200].to_csv(root / "csvs" / f"part{i}.csv", index=False)
    frame.to_csv(root / "all.csv", index=False)
    return root


@pytest.mark.parametrize("where", ["pq/*.parquet", "pq", "pq/part0.parquet", "csvs"])
def test_cli_reads_parquet_glob_dir(files, where, capsys):
    """`mlrbayes fit DATA --engine dask` reads a glob, a directory of Parquet or CSV files or
    one Parquet file; the fit equals fit_em on the same rows in memory (log-likelihood to
    1e-8 relative); the JSON leaves out the n rows of memberships."""
    from mlrbayes.cli import main

    out = files / f"em_{where.replace('/', '_').replace('*', 'all')}.json"
    code = main([
        "fit", str(files / where), "--y", "resp", "--x", "dose", "age", "-k", "2", "--seed", "3",
        "--engine", "dask", "--json", str(out), "--n-init", "3", "--tol", "1e-14",
    ])  # fmt: skip
    assert code == 0
    em = json.loads(out.read_text())
    frame = pd.read_csv(files / "all.csv")
    if where.endswith("part0.parquet"):
        frame = pd.read_parquet(files / where)
    mem = fit_em(frame[["dose", "age"]], frame["resp"], 2, sigma="shared", n_init=3,
                 random_state=3, tol=1e-14, accelerate="squarem", compute_se=False)  # fmt: skip
    np.testing.assert_allclose(em["loglik"], mem.loglik, rtol=1e-8)
    assert em["n_samples"] == len(frame) and "responsibilities" not in em


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nowhere/*.parquet", "--engine", "dask"], "names no file"),
        (["missing.parquet", "--engine", "dask"], "does not exist"),
        (["pq", "--engine", "dask", "--x", "dose", "dose"], "each once"),
        (["pq", "--engine", "dask", "--y", "nope"], "--y 'nope' is not a column"),
        (["all.csv", "--scheduler", "tcp://127.0.0.1:1"], "--scheduler needs --engine dask"),
    ],
)
def test_cli_dask_bad_input(files, args, message, capsys, monkeypatch):
    """Bad paths and columns: exit 2, one line on stderr naming the problem, no output."""
    from mlrbayes.cli import main

    monkeypatch.chdir(files)
    argv = ["fit", *args, "-k", "2", "--seed", "1", "--json", "bad.json"]
    if "--y" not in args:
        argv += ["--y", "resp"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not (files / "bad.json").exists()


def test_estimator_and_select_components_on_dask(data):
    """MixtureRegressionEM.fit and select_components accept Dask input (the in-memory
    answer from the same settings); the estimator's predictions are lazy for Dask X."""
    from mlrbayes import MixtureRegressionEM, select_components

    X, y = data
    frame = pd.DataFrame(X, columns=["dose", "age"])
    ddf = dd.from_pandas(frame, npartitions=2)
    yd = dd.from_pandas(pd.Series(y, name="resp"), npartitions=2)
    kw = dict(n_init=3, random_state=0, tol=1e-14)
    mem = MixtureRegressionEM(2, **kw).fit(frame, y)
    est = MixtureRegressionEM(2, **kw).fit(ddf, yd)
    assert list(est.feature_names_in_) == ["dose", "age"] and est.n_features_in_ == 2
    np.testing.assert_allclose(est.loglik_, mem.loglik_, rtol=RTOL)
    got = est.predict_proba(ddf)
    assert isinstance(got, da.Array)
    np.testing.assert_allclose(got.compute(), est.predict_proba(frame), rtol=1e-12)
    table = select_components(ddf, yd, [1, 2], n_init=2, random_state=0, tol=1e-14,
                              accelerate="squarem")  # fmt: skip
    ref = select_components(frame, y, [1, 2], n_init=2, random_state=0, tol=1e-14,
                            accelerate="squarem")  # fmt: skip
    np.testing.assert_allclose(table["loglik"], ref["loglik"], rtol=RTOL)
    assert table["best_bic"].tolist() == ref["best_bic"].tolist()


def test_census_on_dask_finds_the_same_optima():
    """Four clouds (two equally good explanations: the simulate CLI's four-clouds preset):
    the Dask census finds the in-memory optima with the same counts (the
    two tie in log-likelihood, so their order may differ)."""
    pts = np.repeat([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]], 10, axis=0)
    kw = dict(sigma=0.25, n_init=10, random_state=0, accelerate=None)
    mem = fit_em(pts[:, :1], pts[:, 1], 2, **kw)
    lazy = fit_em(da.from_array(pts[:, :1], chunks=(15, 1)), da.from_array(pts[:, 1], chunks=15),
                  2, **kw)  # fmt: skip

    def optima(res):
        return sorted((round(o.loglik, 8), o.count, o.n_variants, o.degenerate)
                      for o in res.optima)  # fmt: skip

    assert optima(lazy) == optima(mem) and len(mem.optima) >= 2


def test_degenerate_start_on_dask_as_in_memory():
    """A given start with one component through two observations and a tiny sd collapses
    (per-component sigma): on Dask as in memory the start is flagged degenerate with the
    collapse note, kept in the census and not chosen (SQUAREM on both)."""
    X, y, _ = simulate(60, [0.5, 0.5], [-2.0, 2.0], [[1.0], [-1.0]], 0.5, random_state=4)
    c = (y[1] - y[0]) / (X[1, 0] - X[0, 0])
    start = {"weights": [0.9, 0.1], "intercept": [float(np.mean(y)), y[0] - c * X[0, 0]],
             "coef": [[0.0], [c]], "sigma": [1.0, 1e-3]}  # fmt: skip
    kw = dict(sigma="component", init=start, n_init=3, random_state=1, accelerate="squarem")
    mem = fit_em(X, y, 2, **kw)
    lazy = fit_em(da.from_array(X, chunks=(25, 1)), da.from_array(y, chunks=25), 2, **kw)
    for res in (mem, lazy):
        first = res.starts[0]
        assert first.degenerate and not first.converged
        assert any("collapsed" in note for note in first.notes)
        assert res.optima[first.optimum].degenerate and not res.degenerate
    np.testing.assert_allclose(lazy.loglik, mem.loglik, rtol=RTOL)
    assert lazy.starts[0].n_iter == mem.starts[0].n_iter
