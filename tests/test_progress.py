"""Progress: shown when someone watches (terminal, notebook), a bar over EM starts after a delay."""

import io
import sys
import types

import pytest

from mlrbayes import progress, simulate
from mlrbayes.em import fit_em


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_bar_text_after_the_delay():
    out = io.StringIO()
    with progress.StartsProgress(4, enabled=True, delay=0.0, stream=out, width=8) as bar:
        assert bar.line(1, 3.0) == "EM starts 1/4 [##......] 0:03 elapsed, ~0:09 left"
        assert bar.line(4, 75.0) == "EM starts 4/4 [########] 1:15 elapsed"
        for i in range(4):
            bar.update(i + 1)
    text = out.getvalue()
    assert text.count("\r") == 4
    # the last line is padded over the longer "..., ~0:00 left" before it
    last = "EM starts 4/4 [########] 0:00 elapsed"
    assert text.endswith(last + " " * len(", ~0:00 left") + "\n")


@pytest.mark.parametrize(("enabled", "delay"), [(True, 60.0), (False, 0.0)])
def test_bar_silent_when_quick_or_disabled(enabled, delay):
    out = io.StringIO()
    with progress.StartsProgress(3, enabled=enabled, delay=delay, stream=out) as bar:
        for i in range(3):
            bar.update(i + 1)
    assert out.getvalue() == ""


def test_interrupted_bar_ends_its_line():
    out = io.StringIO()
    with pytest.raises(KeyboardInterrupt):
        with progress.StartsProgress(5, enabled=True, delay=0.0, stream=out) as bar:
            bar.update(1)
            raise KeyboardInterrupt
    assert out.getvalue().startswith("\rEM starts 1/5") and out.getvalue().endswith("\n")


def test_interactive_means_terminal_or_notebook(monkeypatch):
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    assert progress.interactive() is False and progress.resolve_progressbar(None) is False
    assert progress.interactive(_Tty()) is True
    monkeypatch.setattr(sys, "stderr", _Tty())
    assert progress.resolve_progressbar(None) is True
    assert progress.resolve_progressbar(False) is False
    # a Jupyter kernel: IPython's shell is a ZMQInteractiveShell
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    shell = type("ZMQInteractiveShell", (), {})()
    fake = types.SimpleNamespace(get_ipython=lambda: shell)
    monkeypatch.setitem(sys.modules, "IPython", fake)
    assert progress.interactive() is True
    fake.get_ipython = lambda: type("TerminalInteractiveShell", (), {})()
    assert progress.interactive() is False
    with pytest.raises(TypeError, match="progressbar must be True, False or None"):
        progress.resolve_progressbar("yes")


def test_fit_em_progressbar(monkeypatch, capsys):
    X, y, _ = simulate(200, [0.5, 0.5], [0.0, 4.0], [[1.0], [-1.0]], 0.5, random_state=0)
    ticks = iter(range(0, 10_000, 5))  # every clock reading 5 s later: a slow fit
    monkeypatch.setattr(progress.time, "monotonic", lambda: float(next(ticks)))
    a = fit_em(X, y, 2, sigma="shared", n_init=3, random_state=0, progressbar=True)
    err = capsys.readouterr().err
    assert err.count("\r") == 3 and "EM starts 3/3 [" in err and err.endswith("\n")
    b = fit_em(X, y, 2, sigma="shared", n_init=3, random_state=0, progressbar=False)
    assert capsys.readouterr().err == ""
    b2 = fit_em(X, y, 2, sigma="shared", n_init=3, random_state=0)  # captured stderr: no bar
    assert capsys.readouterr().err == ""
    assert a.loglik == b.loglik == b2.loglik  # progress does not change the fit
