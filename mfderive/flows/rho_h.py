r"""The three :math:`(\rho,H)` systems of Fernández-Real & Figalli (2022, §3.2–3.3):
separated, transported and chaos."""

from __future__ import annotations

import sympy as sp
from sympy.core.function import UndefinedFunction

from ..derive.euler import grad
from ..derive.function_variation import function_variation
from ..derive.measures import as_sympy, check_differentiable_measure
from ..derive.points import working_point
from ..derive.variation import first_variation
from ..errors import InvalidOptionError, NotSympyError
from .base import FieldEquation, Flow, _dot
from .localize import Localizer

__all__ = ['RhoHFlow']


class RhoHFlow(Flow):
    r"""The :math:`(\rho, H)` systems of Fernández-Real & Figalli (2022) for an energy
    :math:`G(\rho, H)`.

    With :math:`P = \frac{\delta G}{\delta\rho}` and :math:`Q = \frac{\delta G}{\delta H}`
    (the :math:`L^2(\rho)` variation) derived by the engine:

    * ``"separated"`` (3.19): :math:`\partial_t\rho = \operatorname{div}(\rho\nabla P)`,
      :math:`\partial_t H = -Q`;
    * ``"transported"`` (3.21)–(3.22): the same :math:`\rho`, and
      :math:`\partial_t H + v\cdot\nabla H = -Q` with :math:`v = -\nabla P`;
    * ``"chaos"`` (3.23)–(3.25) = (3.30)–(3.31): :math:`\partial_t\rho + \operatorname{div}(\rho w) = 0`,
      :math:`\partial_t H + w\cdot\nabla H = -Q`, with :math:`w = -\nabla P + Q\nabla H`
      (which is their :math:`-H\nabla(\bar{\mathcal L}+\bar{\mathcal S}) - \nabla_\theta\bar V`).

    Each claims :math:`\frac{d}{dt}G = -\int|v|^2\rho - \int Q^2\rho` with its own velocity;
    the engine proves it for the separated and chaos systems and exposes the extra term
    of the transported one.

    >>> import sympy as sp, mfderive as mf
    >>> th = sp.Symbol("theta", real=True); rho = mf.Measure("rho", (th,))
    >>> H = sp.Function("H")
    >>> flow = mf.RhoHFlow(mf.integral((H(th) - th)**2, rho) / 2, rho, H, "separated")
    >>> flow.Q
    -y + H(y)
    >>> mf.dissipation_identity(flow).verify().proved
    True
    """

    VARIANTS = ("separated", "transported", "chaos")

    def __init__(self, G, rho, H, variant):
        G = as_sympy(G, "the functional G")
        self.rho = check_differentiable_measure(rho, "rho")
        if not isinstance(H, UndefinedFunction):
            raise NotSympyError(f"H must be an undefined SymPy function, got {H!r}")
        if variant not in self.VARIANTS:
            raise InvalidOptionError(f"variant must be one of {self.VARIANTS}, got {variant!r}")
        self.H, self.variant, self.energy = H, variant, G
        self.name = f"(rho, H) flow, {variant}"
        _, y = working_point(self.rho.point("y"), self.rho, [G])
        self.point = y
        self.localizer = loc = Localizer(y)
        P = loc.local(first_variation(G, self.rho, at=y))
        Q = loc.local(function_variation(G, H, self.rho, at=y))
        r, h = self.rho.density(*y), H(*y)
        gP, gh = grad(P, y), grad(h, y)
        if variant == "chaos":
            v = [-a + Q * b for a, b in zip(gP, gh)]
        else:
            v = [-a for a in gP]
        sH = -Q if variant == "separated" else -_dot(v, gh) - Q
        self.P, self.Q, self.v = P, Q, tuple(v)
        self.equations = (
            FieldEquation(r, tuple(-r * vi for vi in v), sp.S.Zero, P),
            FieldEquation(h, (sp.S.Zero,) * len(y), sH, r * Q),
        )
        self.claimed = -r * _dot(v, v) - r * Q**2
        self.measures = {r: self.rho}

    def velocity(self) -> sp.Matrix:
        """The transport velocity of ρ (v, or w for the chaos system) at the flow's point."""
        return sp.Matrix([self.nonlocal_(vi) for vi in self.v])
