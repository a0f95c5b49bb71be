r"""SQUAREM: squared extrapolation of the EM map (Varadhan & Roland 2008), scheme S3.

Write :math:`F` for one EM iteration (a pass at :math:`\theta` and the M-step from its
statistics). From :math:`\theta_0`, two EM steps give :math:`\theta_1 = F(\theta_0)` and
:math:`\theta_2 = F(\theta_1)`; with :math:`r = \theta_1 - \theta_0`,
:math:`v = \theta_2 - 2\theta_1 + \theta_0` and the S3 step length
:math:`\alpha = \sqrt{r^\top r / v^\top v}` the extrapolated point is

.. math::

    \theta' = \theta_0 + 2 \alpha r + \alpha^2 v ,

which is :math:`\theta_2` at :math:`\alpha = 1` (the plain EM step). Safeguards, as in the
authors' R package ``SQUAREM`` (``squarem1``): :math:`\alpha` is clipped to
``[1, step_max]``; ``step_max`` starts at 1 and is multiplied by 4 each time the clipped step
is accepted at the bound, and divided by 4 (not below 1) when a step at the bound fails.
The extrapolation works on an unconstrained parametrisation: coefficients as they are, the
log of the weights (renormalised after) and the log of the sds, so :math:`\theta'` is always a
valid parameter.

*Monotonicity fallback*: the loop (:mod:`mlrbayes.em.loop`) evaluates the log-likelihood at
:math:`\theta'` in the pass that also yields :math:`F(\theta')` (the stabilising EM step). If it
is not finite, or below the log-likelihood at :math:`\theta_1`, or :math:`\theta'` trips a
degeneracy check, the extrapolation is rejected and the iteration continues from
:math:`\theta_2` (the plain EM step, whose log-likelihood is at least that at
:math:`\theta_1`). So every log-likelihood kept in the trace is at least the one before it,
exactly as for plain EM, and the loop's decrease check stays valid.

Reference: R. Varadhan and C. Roland (2008), "Simple and globally convergent methods for
accelerating the convergence of any EM algorithm", *Scandinavian Journal of Statistics* 35(2),
335-353.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ACCELERATE_CHOICES", "StepLength", "check_accelerate", "extrapolate"]

#: Values of the ``accelerate`` keyword of :func:`mlrbayes.em.fit_em`.
ACCELERATE_CHOICES = ("auto", "squarem", None)
#: Growth factor of the largest allowed step length (``mstep`` of the R package).
STEP_FACTOR = 4.0


def check_accelerate(accelerate) -> str | None:
    """``"squarem"`` or None; anything else is a ValueError naming the choices."""
    if accelerate is None or (isinstance(accelerate, str) and accelerate == "squarem"):
        return accelerate
    raise ValueError(
        f"accelerate must be 'auto', 'squarem' or None (plain EM); got {accelerate!r}."
    )


@dataclass
class StepLength:
    """The adaptive bound on the S3 step length of one start (mutable, per start)."""

    step_max: float = 1.0

    def clip(self, alpha: float) -> float:
        """The step length used: ``alpha`` clipped to ``[1, step_max]`` (1 if not finite)."""
        if not np.isfinite(alpha):
            return 1.0
        return float(min(max(alpha, 1.0), self.step_max))

    def accepted(self, alpha: float) -> None:
        """An extrapolation of length ``alpha`` was accepted: widen the bound at the bound."""
        if alpha >= self.step_max:
            self.step_max *= STEP_FACTOR

    def rejected(self, alpha: float) -> None:
        """An extrapolation of length ``alpha`` failed: narrow the bound if it was at it."""
        if alpha >= self.step_max:
            self.step_max = max(1.0, self.step_max / STEP_FACTOR)


def _pack(B: np.ndarray, w: np.ndarray, s: np.ndarray) -> np.ndarray:
    return np.concatenate([B.ravel(), np.log(w), np.log(s)])


def extrapolate(theta0, theta1, theta2, steps: StepLength):
    """The S3 extrapolation from three successive EM iterates.

    Parameters
    ----------
    theta0, theta1, theta2 : tuple (B (K, d), w (K,), s (K,))
        ``theta1 = F(theta0)``, ``theta2 = F(theta1)``; weights and sds positive.
    steps : StepLength
        The start's step-length bound.

    Returns
    -------
    theta : tuple (B (K, d), w (K,), s (K,)) or None
        The extrapolated parameters (weights summing to 1, positive sds); None when the
        step length is 1 (then it is ``theta2``, which the caller already has) or a value is
        not finite.
    alpha : float
        The clipped step length.
    """
    p0, p1, p2 = (_pack(*t) for t in (theta0, theta1, theta2))
    r = p1 - p0
    v = p2 - 2.0 * p1 + p0
    vv = float(v @ v)
    alpha = steps.clip(np.sqrt(float(r @ r) / vv) if vv > 0 else np.inf)
    if alpha == 1.0:
        return None, alpha
    p = p0 + 2.0 * alpha * r + alpha * alpha * v
    if not np.all(np.isfinite(p)):
        return None, alpha
    k, d = theta0[0].shape
    B = p[: k * d].reshape(k, d)
    logw = p[k * d : k * d + k]
    w = np.exp(logw - logw.max())
    w /= w.sum()
    s = np.exp(p[k * d + k :])
    return (B, w, s), alpha
