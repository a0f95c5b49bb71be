r"""EM for mixtures of linear regressions: results, census of local optima, and the fitter.

The model (see :mod:`mlrbayes.likelihood`) is

.. math::

    y_i \sim \sum_{k=1}^K \pi_k \, \mathcal{N}(b_k + c_k^\top x_i,\ \sigma_k^2).

:func:`fit_em` runs ``n_init`` EM starts (Dempster, Laird & Rubin 1977; for regression mixtures
DeSarbo & Cron 1988), keeps every start in a census, groups the starts into distinct local optima
(up to relabelling of the components) and returns the best non-degenerate one as an
:class:`EMResult`.

Modules, in the order the data flow through them:

* :mod:`~mlrbayes.em.scaling` — standardisation and the way back to the user's units;
* :mod:`~mlrbayes.em.starts` — initialisation strategies;
* :mod:`~mlrbayes.em.multistart` — screening, the K-1 parent of the split start, running
  every start (with the saddle check of :func:`~mlrbayes.em.loop.run_checked`);
* :mod:`~mlrbayes.em.order` — the canonical order of the components;
* :mod:`~mlrbayes.em.engine` — one pass over the data returning the sufficient statistics
  (in memory; the loop sees the data only through this interface);
* :mod:`~mlrbayes.em.kernels` — the array mathematics: :func:`e_step` and :func:`m_step`
  written plainly (the reference), the weighted least-squares solve, the M-step from the
  sufficient statistics and the one sigma update both M-steps share;
* :mod:`~mlrbayes.em.loop` — the iterations of one start (:class:`~mlrbayes.em.loop.StartState`),
  as a generator of passes so that many starts can share one pass (``run_batch``);
* :mod:`~mlrbayes.em.squarem` — SQUAREM acceleration of the EM map (``accelerate=``);
* :mod:`~mlrbayes.em.dask_engine` — the engine over Dask arrays/DataFrames (data larger than
  memory, or a cluster) and ``fit_em`` for them; Dask is imported only there;
* :mod:`~mlrbayes.em.census` — grouping starts into distinct optima;
* :mod:`~mlrbayes.em.fit` — :func:`fit_em`, a short sequence of calls to the above;
* :mod:`~mlrbayes.em.result` — :class:`EMResult`, :class:`StartResult`, :class:`Optimum` and the
  warning classes.
* :mod:`~mlrbayes.em.predict` — predictions for new data (component lines, mixture mean,
  predictive intervals, prior membership and membership given the response, draws); the
  prediction methods of :class:`EMResult` call it.

The extended model (gating covariates, fixed coefficients, groups, observation weights; issue
14) has its own loop, reached from :func:`fit_em` when the data have any of these parts:

* :mod:`~mlrbayes.em.gating` — the gating M-step (penalised multinomial logit, Newton);
* :mod:`~mlrbayes.em.extended` — E-step on units, joint least-squares M-step, the loop;
* :mod:`~mlrbayes.em.extended_fit` — starts (from the plain fit), census, order, result;
* :mod:`~mlrbayes.em.predict_extended` — predictions that need the new parts.

Pure NumPy/SciPy; it never imports PyMC.
"""

from . import result
from .fit import fit_em
from .kernels import e_step, m_step
from .result import *  # noqa: F403  (the result types and warning classes, result.__all__)

__all__ = [*result.__all__, "e_step", "fit_em", "m_step"]
