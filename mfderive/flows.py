r"""Flows of measures, each built from a functional by the engine.

Every flow is a list of field equations :math:`\partial_t u = \operatorname{div} J_u + s_u`
for its unknown fields :math:`u` (a density, or a density and a function :math:`H`),
together with the coefficients :math:`c_u` of its energy's time derivative,
:math:`\frac{d}{dt}E = \int \sum_u c_u\,\partial_t u\,dy`, and the dissipation rate its
structure claims.  Fluxes, sources and coefficients come from the engine's first
variations of the energy; nothing is typed per flow.

* :class:`WassersteinFlow` — :math:`\partial_t m = \operatorname{div}(m\nabla\frac{\delta E}{\delta m})`
  with :math:`E = F + \frac{\sigma^2}{2}H(m\,|\,e^{-U})`: the gradient flow (3.6) of seed 002,
  the MFLD of seed 000 (Theorem 2), and the heat (4.2) / porous-medium (4.7) regularised
  flows when ``F`` carries an entropy or :math:`\int\frac\tau2 m^2` term.
* :class:`RhoHFlow` — the three :math:`(\rho,H)` systems of seed 002 §3.2–3.3.
* :class:`UnbalancedFlow` — the Wasserstein–Fisher–Rao dynamics of seed 003.

Nonlocal terms evaluated at the point are unknown functions :math:`N_k(y)` in the field
equations (:class:`~mfderive.fields.Localizer`); :meth:`Flow.pde` puts them back.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp
from sympy.core.function import AppliedUndef, UndefinedFunction

from .errors import InvalidExpressionError, InvalidOptionError, MfDeriveError, NotSympyError
from .fields import Localizer, grad
from .integrals import entropy, local, relative_entropy, substitute
from .measures import as_sympy, check_differentiable_measure
from .variation import average, first_variation, function_variation, working_point

__all__ = [
    "FieldEquation",
    "Flow",
    "WassersteinFlow",
    "RhoHFlow",
    "UnbalancedFlow",
    "NoParticleReadingError",
    "TIME",
]

TIME = sp.Symbol("t", nonnegative=True)


class NoParticleReadingError(MfDeriveError, ValueError):
    """The flow has no particle (SDE/ODE) reading, e.g. a porous-medium term whose
    nonlinear diffusion needs the density itself."""


@dataclass(frozen=True)
class FieldEquation:
    r""":math:`\partial_t u = \operatorname{div} J + s`, and the coefficient :math:`c` of
    :math:`\partial_t u` in :math:`\frac{d}{dt}E = \int c\,\partial_t u\,dy` (all local
    expressions at the flow's point)."""

    field: AppliedUndef
    flux: tuple
    source: sp.Expr
    coefficient: sp.Expr


def log_density_split(phi, m):
    r"""``(kappa, rest)`` with :math:`\phi = \kappa\log m + \text{rest}`, ``kappa`` free of
    ``m`` and ``rest`` free of :math:`\log m` (it may still contain ``m``, e.g. a porous-medium
    term) — or ``None`` when :math:`\phi` is not linear in :math:`\log m` (:math:`m\log m`, ...).  The entropy part of a
    first variation: read as noise (SDE), as a Gibbs exponent, or as the explicit part of a
    KL proximal step."""
    L = sp.Dummy("L")
    lin = sp.expand(phi).xreplace({sp.log(m): L})
    kappa = sp.diff(lin, L)
    if kappa.has(L) or kappa.has(m):
        return None
    return kappa, sp.expand(lin - kappa * L)


def _dot(a, b):
    return sp.Add(*[ai * bi for ai, bi in zip(a, b)])


class Flow:
    """Common structure: ``equations``, ``claimed`` (the claimed rate density), ``point``,
    ``localizer``, ``measures`` (density application → measure) and ``energy``."""

    name = "flow"
    boundary_condition = "no-flux: J·n = 0 on the boundary (or decay at infinity)"

    energy: sp.Expr
    point: tuple
    localizer: Localizer
    equations: tuple
    claimed: sp.Expr
    measures: dict

    # -- display ---------------------------------------------------------------
    def _timed(self, expr):
        funcs = {eq.field.func for eq in self.equations}
        t = TIME
        return expr.replace(
            lambda e: isinstance(e, AppliedUndef) and e.func in funcs,
            lambda e: e.func(t, *e.args),
        )

    def nonlocal_(self, expr):
        """A local expression with its nonlocal terms put back."""
        return self.localizer.nonlocal_(expr)

    def pde(self) -> list[sp.Eq]:
        r"""The PDE system: ``Eq(∂_t u(t, y), div J + s)`` per field, the divergence
        unevaluated, nonlocal terms as integrals, fields as functions of ``(t, y)``."""
        out = []
        y = self.point
        for eq in self.equations:
            div = sp.Add(
                *[
                    sp.Derivative(self._timed(self.nonlocal_(Ji)), yi)
                    for Ji, yi in zip(eq.flux, y)
                    if Ji != 0
                ],
                evaluate=False,
            ) if any(Ji != 0 for Ji in eq.flux) else sp.S.Zero
            rhs = div + self._timed(self.nonlocal_(eq.source)) if eq.source != 0 else div
            out.append(sp.Eq(sp.Derivative(self._timed(eq.field), TIME), rhs, evaluate=False))
        return out

    def dissipation(self) -> sp.Expr:
        r"""The claimed rate :math:`\frac{d}{dt}E` as a functional: a local integral of the
        claimed rate density over the variables of the (first) measure."""
        (field, mu), *_ = self.measures.items()
        xi = mu.variables
        dens = substitute(self.nonlocal_(self.claimed), dict(zip(self.point, xi)))
        return local(dens, mu)

    def _repr_latex_(self):
        lines = [sp.latex(e) for e in self.pde()]
        return "$\\displaystyle \\begin{aligned}" + r"\\ ".join(
            ln.replace("=", "&=", 1) for ln in lines
        ) + r"\end{aligned}$"

    def __repr__(self):
        return f"{type(self).__name__}({self.name})"


class WassersteinFlow(Flow):
    r"""The Wasserstein gradient flow of :math:`E = F + \frac{\sigma^2}{2}H(m\,|\,g)`.

    .. math::
        \partial_t m = \operatorname{div}\Big(m\,\nabla\frac{\delta E}{\delta m}\Big),\qquad
        \frac{d}{dt}E = -\int \Big|\nabla\frac{\delta E}{\delta m}\Big|^2 m\,dy,

    with :math:`g = e^{-U}` when a confinement ``U`` is given, and plain entropy otherwise.
    With ``noise = σ > 0`` this is the mean-field Langevin dynamics of seed 000, whose
    particles follow :math:`dX = -(D_mF(m_t, X) + \frac{\sigma^2}{2}\nabla U(X))\,dt + \sigma\,dW`.

    Parameters
    ----------
    F : functional of ``mu``
    mu : Measure
    noise : σ (a SymPy expression; 0 for the deterministic flow)
    confinement : U, an expression in ``mu``'s variables, or None
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


class RhoHFlow(Flow):
    r"""The :math:`(\rho, H)` systems of seed 002 for an energy :math:`G(\rho, H)`.

    With :math:`P = \frac{\delta G}{\delta\rho}` and :math:`Q = \frac{\delta G}{\delta H}`
    (the :math:`L^2(\rho)` variation) derived by the engine:

    * ``"separated"`` (3.19): :math:`\partial_t\rho = \operatorname{div}(\rho\nabla P)`,
      :math:`\partial_t H = -Q`;
    * ``"transported"`` (3.21)–(3.22): the same :math:`\rho`, and
      :math:`\partial_t H + v\cdot\nabla H = -Q` with :math:`v = -\nabla P`;
    * ``"chaos"`` (3.23)–(3.25) = (3.30)–(3.31): :math:`\partial_t\rho + \operatorname{div}(\rho w) = 0`,
      :math:`\partial_t H + w\cdot\nabla H = -Q`, with :math:`w = -\nabla P + Q\nabla H`
      (which is seed 002's :math:`-H\nabla(\bar{\mathcal L}+\bar{\mathcal S}) - \nabla_\theta\bar V`).

    Each claims :math:`\frac{d}{dt}G = -\int|v|^2\rho - \int Q^2\rho` with its own velocity;
    the engine proves it for the separated and chaos systems and exposes the extra term
    of the transported one.
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


class UnbalancedFlow(Flow):
    r"""Wasserstein–Fisher–Rao (birth–death) dynamics of seed 003,

    .. math:: \partial_t\mu = \operatorname{div}(\mu\nabla V) - \alpha(V - \bar V)\mu,\qquad
              V = \frac{\delta F}{\delta\mu},\quad \bar V = \int V\,d\mu,

    which preserves mass and claims
    :math:`\frac{d}{dt}F = -\int|\nabla V|^2\,d\mu - \alpha\int(V-\bar V)^2\,d\mu`.
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
