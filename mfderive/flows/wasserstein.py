r"""The Wasserstein gradient flow and the mean-field Langevin dynamics.

:math:`\partial_t m = \operatorname{div}(m\nabla\frac{\delta E}{\delta m})` with
:math:`E = F + \frac{\sigma^2}{2}H(m\,|\,e^{-U})`: the gradient flow of Fernández-Real &
Figalli (2022, (3.6)), the MFLD of Hu, Ren, Šiška & Szpruch (2021, Thm 2), and the heat /
porous-medium regularised flows when ``F`` carries an entropy or :math:`\int\frac\tau2 m^2`.
"""

from __future__ import annotations

import sympy as sp

from ..derive.euler import grad
from ..derive.integrals import entropy, relative_entropy, substitute
from ..derive.measures import as_sympy, check_differentiable_measure
from ..derive.points import working_point
from ..derive.variation import first_variation
from ..errors import InvalidExpressionError, NoParticleReadingError
from .base import FieldEquation, Flow, _dot, log_density_split
from .localize import Localizer

__all__ = ['WassersteinFlow']


class WassersteinFlow(Flow):
    r"""The Wasserstein gradient flow of :math:`E = F + \frac{\sigma^2}{2}H(m\,|\,g)`.

    .. math::
        \partial_t m = \operatorname{div}\Big(m\,\nabla\frac{\delta E}{\delta m}\Big),\qquad
        \frac{d}{dt}E = -\int \Big|\nabla\frac{\delta E}{\delta m}\Big|^2 m\,dy,

    with :math:`g = e^{-U}` when a confinement ``U`` is given, and plain entropy otherwise.
    With ``noise = σ > 0`` this is the mean-field Langevin dynamics of Hu, Ren, Šiška & Szpruch
    (2021, Thm 2), whose particles follow
    :math:`dX = -(D_mF(m_t, X) + \frac{\sigma^2}{2}\nabla U(X))\,dt + \sigma\,dW`.

    Parameters
    ----------
    F : functional of ``mu``
    mu : Measure
    noise : σ (a SymPy expression; 0 for the deterministic flow)
    confinement : U, an expression in ``mu``'s variables, or None

    Examples
    --------
    >>> import sympy as sp, mfderive as mf
    >>> w = sp.Symbol("w", real=True); mu = mf.Measure("mu", (w,))
    >>> flow = mf.WassersteinFlow(mf.integral(w**2, mu) / 2, mu)
    >>> flow.pde()
    [Eq(Derivative(mu(t, y), t), Derivative(y*mu(t, y), y))]
    >>> mf.WassersteinFlow(mf.integral(w**2, mu) / 2, mu, noise=1).sde()
    (Matrix([[-y]]), 1)
    """

    name = "Wasserstein gradient flow"

    def __init__(self, F, mu, noise=0, confinement=None):
        F = as_sympy(F, "the functional F")
        self.mu = check_differentiable_measure(mu)
        self.noise = as_sympy(noise, "noise")
        self.confinement = None if confinement is None else as_sympy(confinement, "confinement U")
        if self.noise.is_extended_real is False or self.noise.is_extended_negative:
            raise InvalidExpressionError(f"the noise sigma must be a real number >= 0, got {self.noise}")
        if self.confinement is not None and self.confinement.is_extended_real is False:
            raise InvalidExpressionError(
                f"the confinement U = {self.confinement} is not real (is it -log(g) for a "
                "g <= 0?); the Gibbs reference exp(-U) must be a positive density"
            )
        E = F
        if self.noise != 0:
            reg = (
                relative_entropy(self.mu, sp.exp(-self.confinement))
                if self.confinement is not None
                else entropy(self.mu)
            )
            E = F + self.noise**2 / 2 * reg
            self.name = "mean-field Langevin dynamics"
        self.functional = F
        self.energy = E
        _, y = working_point(self.mu.point("y"), self.mu, [E])
        self.point = y
        self.localizer = Localizer(y)
        phi = self.localizer.local(first_variation(E, self.mu, at=y))
        m = self.mu.density(*y)
        gphi = grad(phi, y)
        self.potential = phi
        self.equations = (FieldEquation(m, tuple(m * g for g in gphi), sp.S.Zero, phi),)
        self.claimed = -m * _dot(gphi, gphi)
        self.measures = {m: self.mu}

    def velocity(self, at=None) -> sp.Matrix:
        r"""The velocity :math:`-\nabla\frac{\delta E}{\delta m}
        = -(D_\mu F + \frac{\sigma^2}{2}\nabla\log m + \frac{\sigma^2}{2}\nabla U)` at ``at``
        (default: the flow's point)."""
        v = sp.Matrix([-self.nonlocal_(g) for g in grad(self.potential, self.point)])
        if at is None:
            return v
        pt, _ = working_point(at, self.mu, [])
        return v.applyfunc(lambda e: substitute(e, dict(zip(self.point, pt))))

    def sde(self, at=None) -> tuple[sp.Matrix, sp.Expr]:
        r"""``(drift, sigma)`` of the particle system :math:`dX = b(m_t, X)\,dt + \sigma\,dW`.

        The density-dependent part of :math:`\frac{\delta E}{\delta m}` must be
        :math:`\kappa\log m` (entropy), read as Brownian noise with
        :math:`\sigma = \sqrt{2\kappa}`; the drift is minus the gradient of the rest.
        """
        m = self.mu.density(*self.point)
        split = log_density_split(self.potential, m)
        if split is None or split[1].has(m):
            dens = sp.Add(*[t for t in sp.Add.make_args(sp.expand(self.potential)) if t.has(m)])
            raise NoParticleReadingError(
                f"dE/dm contains the density term {sp.sstr(dens)}, which is not "
                f"kappa*log(m): a nonlinear diffusion (e.g. porous medium) has no SDE "
                f"reading with independent Brownian particles"
            )
        kappa, rest = split
        drift = sp.Matrix([-self.nonlocal_(g) for g in grad(rest, self.point)])
        sigma = sp.sqrt(2 * kappa)
        if at is not None:
            pt, _ = working_point(at, self.mu, [])
            drift = drift.applyfunc(lambda e: substitute(e, dict(zip(self.point, pt))))
        return drift, sp.simplify(sigma)
