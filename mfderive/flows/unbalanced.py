r"""Wasserstein–Fisher–Rao (birth–death) dynamics (Rotskoff, Jelassi, Bruna &
Vanden-Eijnden 2019), and its mass balance."""

from __future__ import annotations

import sympy as sp

from ..derive.euler import grad
from ..derive.measures import as_sympy, check_differentiable_measure
from ..derive.points import average, working_point
from ..derive.variation import first_variation
from .base import FieldEquation, Flow, _dot
from .localize import Localizer

__all__ = ['UnbalancedFlow']


class UnbalancedFlow(Flow):
    r"""Wasserstein–Fisher–Rao (birth–death) dynamics of Rotskoff, Jelassi, Bruna &
    Vanden-Eijnden (2019),

    .. math:: \partial_t\mu = \operatorname{div}(\mu\nabla V) - \alpha(V - \bar V)\mu,\qquad
              V = \frac{\delta F}{\delta\mu},\quad \bar V = \int V\,d\mu,

    which preserves mass and claims
    :math:`\frac{d}{dt}F = -\int|\nabla V|^2\,d\mu - \alpha\int(V-\bar V)^2\,d\mu`.

    >>> import sympy as sp, mfderive as mf
    >>> w = sp.Symbol("w", real=True); mu = mf.Measure("mu", (w,))
    >>> flow = mf.UnbalancedFlow(mf.integral(w**2, mu) / 2, mu, alpha=1)
    >>> flow.mean
    Int[w**2/2, mu(d(w))]
    >>> mf.dissipation_identity(flow).verify().method
    'after integration by parts and the unit mass of the measure'
    """

    name = "Wasserstein-Fisher-Rao flow"

    def __init__(self, F, mu, alpha):
        F = as_sympy(F, "the functional F")
        self.mu = check_differentiable_measure(mu)
        self.alpha = as_sympy(alpha, "alpha")
        self.energy = F
        _, y = working_point(self.mu.point("y"), self.mu, [F])
        self.point = y
        self.localizer = loc = Localizer(y)
        V = first_variation(F, self.mu, at=y)
        self.mean = average(V, y, self.mu)
        V = loc.local(V)
        m = self.mu.density(*y)
        gV = grad(V, y)
        self.potential = V
        src = -self.alpha * (V - self.mean) * m
        self.equations = (FieldEquation(m, tuple(m * g for g in gV), src, V),)
        self.claimed = -m * _dot(gV, gV) - self.alpha * (V - self.mean) ** 2 * m
        self.measures = {m: self.mu}

    def mass_flow(self) -> "_MassFlow":
        """The same PDE with energy = mass (coefficient 1) and claimed rate 0: its
        dissipation identity is the mass balance d/dt ∫ dμ = 0."""
        return _MassFlow(self)


class _MassFlow(Flow):
    name = "mass balance"

    def __init__(self, flow: Flow):
        self.point, self.localizer, self.measures = flow.point, flow.localizer, flow.measures
        self.energy = sp.S.One
        self.equations = tuple(
            FieldEquation(eq.field, eq.flux, eq.source, sp.S.One) for eq in flow.equations
        )
        self.claimed = sp.S.Zero
