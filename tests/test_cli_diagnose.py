"""`mlrbayes diagnose` end to end, on posteriors built by hand and saved as NetCDF."""

from __future__ import annotations

import json

import arviz_base
import numpy as np
import pandas as pd
import pytest

from mlrbayes import relabel
from mlrbayes.cli import main
from mlrbayes.em import fit_em

KEYS = ("verdict", "label_switching", "multimodality", "rhat_before", "rhat_after")


def _draws(rng, opt, ndraw):
    w = np.clip(opt.weights + 0.03 * rng.standard_normal((ndraw, 2)), 0.02, None)
    w /= w.sum(-1, keepdims=True)
    b = opt.intercept + 0.05 * rng.standard_normal((ndraw, 2))
    c = opt.coef + 0.05 * rng.standard_normal((ndraw, 2, 1))
    return w, b, c


def _save(path, X, y, w, b, c, sigma=0.25):
    dt = arviz_base.from_dict(
        {
            "posterior": {"weights": w, "intercept": b, "coef": c},
            "constant_data": {"X": X, "sigma": np.asarray(sigma)},
            "observed_data": {"y": y},
        },
        dims={
            "weights": ["component"],
            "intercept": ["component"],
            "coef": ["component", "feature"],
            "X": ["obs", "feature"],
            "y": ["obs"],
        },
        coords={"component": [0, 1], "feature": ["x"]},
    )
    dt.to_netcdf(path)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Four-clouds data; posteriors with chains split between modes / in swapped labellings."""
    d = tmp_path_factory.mktemp("diag")
    rng = np.random.default_rng(7)
    x = np.repeat([-1.0, -1.0, 1.0, 1.0], 10)
    y = np.repeat([-1.0, 1.0, -1.0, 1.0], 10) + 0.25 * rng.standard_normal(40)
    pd.DataFrame({"x": x, "y": y}).to_csv(d / "data.csv", index=False)
    X = x[:, None]
    em = fit_em(X, y, 2, sigma=0.25, n_init=20, random_state=0)
    assert len(em.optima) >= 2
    # chains 0, 2 at optimum 0; chains 1, 3 at optimum 1
    parts = [_draws(rng, em.optima[c % 2], 200) for c in range(4)]
    w, b, c = (np.stack(a) for a in zip(*parts, strict=True))
    multi = _save(d / "multi.nc", X, y, w, b, c)
    # all chains at optimum 0, chains 1 and 3 with swapped labels
    parts = [_draws(rng, em.optima[0], 200) for _ in range(4)]
    w, b, c = (np.stack(a) for a in zip(*parts, strict=True))
    swap = np.tile([0, 1], (4, 200, 1))
    swap[[1, 3]] = [1, 0]
    switched = _save(d / "switch.nc", X, y, *(relabel.permute_array(a, swap, 2) for a in (w, b, c)))
    return {"dir": d, "data": d / "data.csv", "multi": multi, "switch": switched}


def test_multimodal_json(files, capsys):
    out = files["dir"] / "multi.json"
    code = main(
        [
            "diagnose",
            str(files["multi"]),
            "--data",
            str(files["data"]),
            "--y",
            "y",
            "--json",
            str(out),
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "verdict: multimodal" in captured.out
    assert "rhat_before" in captured.out and "rhat_after" in captured.out
    payload = json.loads(out.read_text())
    for key in KEYS:
        assert key in payload
    assert payload["verdict"] == "multimodal"
    modes = payload["multimodality"]["modes"]
    assert len(modes) == 2 and sorted(m["em_optimum"] for m in modes) == [0, 1]
    assert sorted(tuple(m["chains"]) for m in modes) == [(0, 2), (1, 3)]
    assert set(payload["rhat_before"]) == {
        "weights[0]",
        "weights[1]",
        "intercept[0]",
        "intercept[1]",
        "coef[0,x]",
        "coef[1,x]",
    }
    assert payload["em"].startswith("fitted here")


def test_label_switching_with_em_json(files, capsys):
    em_json = files["dir"] / "em.json"
    assert main(
        ["fit", str(files["data"]), "--y", "y", "-k", "2", "--sigma", "0.25", "--n-init", "20",
         "--seed", "0", "--json", str(em_json)]
    ) == 0  # fmt: skip
    out = files["dir"] / "switch.json"
    code = main(
        ["diagnose", str(files["switch"]), "--data", str(files["data"]), "--y", "y",
         "--em", str(em_json), "--method", "ecr", "--json", str(out)]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    payload = json.loads(out.read_text())
    assert payload["verdict"] == "label_switching"
    assert payload["method"] == "ecr"
    assert payload["label_switching"]["chain_groups"] == [[0, 2], [1, 3]]
    assert max(payload["rhat_before"].values()) > 1.5
    assert max(payload["rhat_after"].values()) <= 1.01
    assert payload["em"] == str(em_json)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"posterior": "missing.nc"}, "does not exist"),
        ({"posterior": "data.csv"}, "could not read"),
        ({"y": "nope"}, "--y 'nope' is not a column"),
        ({"data": "short.csv"}, "has 39 rows but the posterior was sampled on 40"),
        ({"em": "em3.json"}, "K=2 components"),
        ({"em": "broken.json"}, "is not JSON"),
    ],
)
def test_bad_input_exit_2_no_file(files, capsys, change, message):
    d = files["dir"]
    pd.read_csv(files["data"]).iloc[:39].to_csv(d / "short.csv", index=False)
    (d / "broken.json").write_text("{not json")
    if not (d / "em3.json").exists():
        assert main(
            ["fit", str(files["data"]), "--y", "y", "-k", "3", "--sigma", "0.25", "--n-init", "2",
             "--json", str(d / "em3.json")]
        ) == 0  # fmt: skip
    capsys.readouterr()
    opts = {"posterior": "multi.nc", "data": "data.csv", "y": "y"} | change
    argv = ["diagnose", str(d / opts["posterior"]), "--data", str(d / opts["data"])]
    argv += ["--y", opts["y"]]
    if "em" in opts:
        argv += ["--em", str(d / opts["em"])]
    out = d / "bad.json"
    argv += ["--json", str(out)]
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert err.startswith("mlrbayes diagnose: error:") and err.count("\n") == 1
    assert not out.exists()
    assert not list(d.glob(".bad.json.*"))  # no temporary left behind
