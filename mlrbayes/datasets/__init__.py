"""Bundled real data.

``load_tonedata()`` returns the tone perception data of Cohen (1980), 150 trials by one trained
musician: ``stretchratio`` (how much the overtones of a pure tone were stretched) and ``tuned``
(the ratio to the fundamental of the tone the musician tuned to the octave above; 2.0 is the true
octave). Source: E. A. Cohen (1980), *Inharmonic tone perception*, PhD thesis, Stanford
University; this copy is the one distributed with the R packages fpc and mixtools
(``data(tonedata)``), written with 15 significant digits. It is the classic example of a
two-component mixture of linear regressions (``tuned ~ stretchratio``): De Veaux (1989),
*Computational Statistics & Data Analysis* 8, 227-245; Viele & Tong (2002), *Statistics and
Computing* 12, 315-330. One group of trials lies near ``tuned = 2`` (the true octave was heard),
the other follows ``tuned = stretchratio`` (the stretched overtones were followed).
"""

from __future__ import annotations

from importlib import resources

import pandas as pd

__all__ = ["load_tonedata", "tonedata_path"]


def tonedata_path() -> str:
    """Filesystem path of the bundled ``tonedata.csv``."""
    return str(resources.files(__name__).joinpath("tonedata.csv"))


def load_tonedata() -> pd.DataFrame:
    """The tone perception data as a DataFrame with columns ``stretchratio`` and ``tuned``.

    Examples
    --------
    >>> df = load_tonedata()
    >>> df.shape, list(df.columns)
    ((150, 2), ['stretchratio', 'tuned'])
    """
    return pd.read_csv(tonedata_path())
