r"""The Wasserstein gradient flow and the mean-field Langevin dynamics.

:math:`\partial_t m = \operatorname{div}(m\nabla\frac{\delta E}{\delta m})` with
:math:`E = F + \frac{\sigma^2}{2}H(m\,|\,e^{-U})`: the gradient flow of Fernández-Real &
Figalli (2022, (3.6)), the MFLD of Hu, Ren, Šiška & Szpruch (2021, Thm 2), and the heat /
porous-medium regularised flows when ``F`` carries an entropy or :math:`\int\frac\tau2 m^2`.
:class:`WassersteinSystem` couples several such flows, one per measure of a joint energy
:math:`E(m_1,\dots,m_K)` (several species, cross-diffusion).
"""

from __future__ import annotations

import sympy as sp

from ..derive.euler import grad
from ..derive.integrals import LocalIntegral, entropy, relative_entropy, substitute
from ..derive.measures import _MeasureBase, as_sympy, check_differentiable_measure, check_names
from ..derive.points import working_point
from ..derive.variation import first_variation
from ..errors import (
    InvalidExpressionError,
    InvalidOptionError,
    InvalidVariablesError,
    NoParticleReadingError,
    NotAMeasureError,
)
from .base import FieldEquation, Flow, _dot, log_density_split
from .localize import Localizer

__all__ = ['WassersteinFlow', 'WassersteinSystem']


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

    Given a list of several measures, ``WassersteinFlow(F, [mu1, mu2], ...)`` is the
    coupled system :class:`WassersteinSystem` ``(F, [mu1, mu2], ...)``.

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

    def __new__(cls, F=None, mu=None, *args, **kwargs):
        # several measures: the coupled system (one PDE per measure)
        if cls is WassersteinFlow and _measure_sequence(mu) and len(mu) != 1:
            return WassersteinSystem(F, mu, *args, **kwargs)
        return super().__new__(cls)

    def __init__(self, F, mu, noise=0, confinement=None):
        F = as_sympy(F, "the functional F")
        if _measure_sequence(mu):  # a list of one measure is that measure
            (mu,) = mu
        self.mu = check_differentiable_measure(mu)
        self.noise = as_sympy(noise, "noise")
        self.confinement = None if confinement is None else as_sympy(confinement, "confinement U")
        self.domain = _manifold_domain(self.mu, F, self.noise)
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
        gphi = self._tangent(grad(phi, y))
        self.potential = phi
        self.equations = (FieldEquation(m, tuple(m * g for g in gphi), sp.S.Zero, phi),)
        # -m |P grad phi|^2, written -m grad(phi)^T P grad(phi) (P is an orthogonal projection)
        self.claimed = -m * _dot(gphi if self.domain is None else grad(phi, y), gphi)
        self.measures = {m: self.mu}

    def velocity(self, at=None) -> sp.Matrix:
        r"""The velocity :math:`-\nabla\frac{\delta E}{\delta m}
        = -(D_\mu F + \frac{\sigma^2}{2}\nabla\log m + \frac{\sigma^2}{2}\nabla U)` at ``at``
        (default: the flow's point)."""
        v = sp.Matrix([-self.nonlocal_(g) for g in self._tangent(grad(self.potential, self.point))])
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
        drift = sp.Matrix([-self.nonlocal_(g) for g in self._tangent(grad(rest, self.point))])
        sigma = sp.sqrt(2 * kappa)
        if at is not None:
            pt, _ = working_point(at, self.mu, [])
            drift = drift.applyfunc(lambda e: substitute(e, dict(zip(self.point, pt))))
        return drift, sp.simplify(sigma)

    def _tangent(self, g):
        r"""The gradient ``g`` at the flow's point, projected on the tangent space of the
        measure's domain: unchanged on :math:`\mathbb R^d`; on a sphere block
        :math:`(I - \theta\theta^\top/|\theta|^2)\,g_\theta` (see :func:`_manifold_domain`)."""
        if self.domain is None:
            return list(g)
        return list(self.domain.project(sp.Matrix(list(g)), self.point, homogeneous=True))


def _manifold_domain(mu, F, noise):
    r"""The domain of ``mu`` when it has sphere factors (None on :math:`\mathbb R^d`).

    On :math:`M = S^{k-1}\times\mathbb R^j` the flow is
    :math:`\partial_t\mu = \operatorname{div}(\mu\,P\nabla\frac{\delta E}{\delta\mu})`
    with :math:`P = \operatorname{diag}(I - \theta\theta^\top/|\theta|^2, I)`, the
    orthogonal projection on the tangent space of the sphere :math:`|\theta| = c` through
    the point.  The velocity is tangent to every such sphere, so the ambient continuity
    equation (in the sense of distributions; Ambrosio, Gigli & Savaré 2008, §8.1) transports
    a measure on the unit sphere along it, with the Riemannian gradient
    :math:`\operatorname{grad}_M\frac{\delta E}{\delta\mu}` as velocity: this is the
    Wasserstein gradient flow on :math:`M` written in ambient coordinates, and
    ``pde()``, ``velocity()``, ``sde()`` and the dissipation identity
    :math:`\frac{d}{dt}E = -\int|P\nabla\frac{\delta E}{\delta\mu}|^2d\mu` are its.
    The density ``mu(t, y)`` in ``pde()`` is then an ambient density; for a measure on the
    sphere read the equation weakly.  Noise and local terms (entropy, :math:`\int m^2`) are
    refused on such a domain: the entropy and the Brownian motion of the sphere are not the
    ambient ones.
    """
    domain = getattr(mu, "domain", None)
    if domain is None or domain.is_euclidean:
        return None
    if noise != 0:
        raise InvalidOptionError(
            f"noise on the measure {mu.name!r} over {domain!r} is not supported: Brownian "
            "motion on a sphere is not the ambient one (use noise=0)"
        )
    if F.atoms(LocalIntegral):
        raise InvalidOptionError(
            f"F has a local term (entropy, an integral of the density) of {mu.name!r} over "
            f"{domain!r}: local functionals are defined against ambient Lebesgue measure, "
            "not the sphere's surface measure; not supported on a sphere domain"
        )
    return domain


def _measure_sequence(mu) -> bool:
    """True for a list or tuple of measures (the coupled system's second argument)."""
    return isinstance(mu, (list, tuple)) and len(mu) > 0 and all(
        isinstance(m, _MeasureBase) for m in mu
    )


def _per_measure(value, measures, what):
    """One entry per measure: a list/tuple of that length, or one value shared by all."""
    if isinstance(value, (list, tuple)):
        if len(value) != len(measures):
            raise InvalidOptionError(
                f"{what} has {len(value)} entries for {len(measures)} measures "
                f"({', '.join(m.name for m in measures)}); give one per measure or a single value"
            )
        return tuple(value)
    return (value,) * len(measures)


class WassersteinSystem(Flow):
    r"""Coupled Wasserstein gradient flows of one energy of several measures.

    For :math:`E(m_1,\dots,m_K) = F + \sum_k\frac{\sigma_k^2}{2}H(m_k\,|\,e^{-U_k})`,
    one continuity equation per measure, each driven by its own first variation
    (the gradient flow of :math:`E` for the product metric
    :math:`W_2^2 = \sum_k W_2^2(\mu_k, \mu_k')`; Jordan, Kinderlehrer & Otto 1998 for one
    species; cross-diffusion systems as in Jüngel 2016),

    .. math::
        \partial_t m_k = \operatorname{div}\Big(m_k\,\nabla\frac{\delta E}{\delta m_k}\Big),
        \qquad
        \frac{d}{dt}E = \sum_k\int\frac{\delta E}{\delta m_k}\,\partial_t m_k\,dy
        = -\sum_k\int m_k\Big|\nabla\frac{\delta E}{\delta m_k}\Big|^2 dy .

    The measures live on one domain: they must have the same number of variables, and
    all fields are written at one point ``y`` (the first measure's).  Each first variation
    comes from the engine (nonlocal couplings :math:`\iint W\,d\mu_1 d\mu_2`, or local ones
    in several densities, :func:`~mfderive.local`); :func:`~mfderive.dissipation_identity`
    proves the identity above for the system.

    Parameters
    ----------
    F : functional of the measures
    measures : a list or tuple of distinct Measures (two or more)
    noise : σ, one expression shared by all measures or one per measure
    confinement : U, one expression (only when all measures have the same variables),
        one per measure (each in its measure's variables, or None), or None

    Attributes: ``mus`` (the measures, in order), ``potentials`` (measure →
    :math:`\frac{\delta E}{\delta m_k}(y)`, nonlocal terms as :math:`N_j(y)`), ``noise``
    and ``confinement`` (one entry per measure), and those of every flow (``equations``,
    ``claimed``, ``energy``, ``point``; ``pde()``, ``dissipation()``); ``velocity(mu)``
    and ``sde(mu)`` per measure.  The one-measure simulators (``mf.particle_flow``,
    ``mf.grid_flow``, ...) refuse a system (``NotAFlowError``).

    Examples
    --------
    >>> import sympy as sp, mfderive as mf
    >>> x = sp.Symbol("x", real=True); chi = sp.Symbol("chi")
    >>> mu1, mu2 = mf.Measure("m1", (x,)), mf.Measure("m2", (x,))
    >>> m1, m2 = mu1.density(x), mu2.density(x)
    >>> E = mf.local(m1 * sp.log(m1) + m2 * sp.log(m2) + chi * m1 * m2, mu1)
    >>> flow = mf.WassersteinFlow(E, [mu1, mu2])
    >>> [eq.rhs for eq in flow.pde()]  # doctest: +NORMALIZE_WHITESPACE
    [Derivative((chi*Derivative(m2(t, y), y) + Derivative(m1(t, y), y)/m1(t, y))*m1(t, y), y),
     Derivative((chi*Derivative(m1(t, y), y) + Derivative(m2(t, y), y)/m2(t, y))*m2(t, y), y)]
    >>> bool(mf.dissipation_identity(flow).verify())
    True
    """

    name = "coupled Wasserstein gradient flows"

    def __init__(self, F, measures, noise=0, confinement=None):
        F = as_sympy(F, "the functional F")
        if isinstance(measures, _MeasureBase):
            raise NotAMeasureError(
                f"WassersteinSystem needs a list of measures, got the single measure "
                f"{measures.name!r}; use mf.WassersteinFlow(F, {measures.name})"
            )
        if not isinstance(measures, (list, tuple)) or len(measures) < 2:
            raise NotAMeasureError(
                f"WassersteinSystem needs a list or tuple of two or more Measures, got {measures!r}"
            )
        mus = tuple(check_differentiable_measure(m, "each measure of a system") for m in measures)
        if len(set(mus)) != len(mus):
            raise NotAMeasureError(
                f"the measures of a system must be distinct; got {[m.name for m in mus]}"
            )
        for m in mus:
            if not getattr(m, "domain", None) is None and not m.domain.is_euclidean:
                raise InvalidOptionError(
                    f"the measure {m.name!r} lives on {m.domain!r}: coupled systems are "
                    "implemented on R^d only (use mf.WassersteinFlow for one measure on it)"
                )
        if len({m.dim for m in mus}) != 1:
            raise InvalidVariablesError(
                "the measures of a system live on one domain and must have the same number "
                "of variables; got " + ", ".join(f"{m.name}: {m.dim}" for m in mus)
            )
        check_names([F], mus)
        sigmas = tuple(as_sympy(s, "noise") for s in _per_measure(noise, mus, "noise"))
        for s in sigmas:
            if s.is_extended_real is False or s.is_extended_negative:
                raise InvalidExpressionError(f"the noise sigma must be a real number >= 0, got {s}")
        if confinement is not None and not isinstance(confinement, (list, tuple)) and any(
            m.variables != mus[0].variables for m in mus
        ):
            raise InvalidOptionError(
                "one confinement U is shared only by measures with the same variables; give "
                "one per measure, each in its measure's variables"
            )
        Us = tuple(
            None if U is None else as_sympy(U, "confinement U")
            for U in _per_measure(confinement, mus, "confinement")
        )
        for U in Us:
            if U is not None and U.is_extended_real is False:
                raise InvalidExpressionError(
                    f"the confinement U = {U} is not real; the Gibbs reference exp(-U) must "
                    "be a positive density"
                )
        self.mus = mus
        self.noise, self.confinement = sigmas, Us
        E = F
        for mu, s, U in zip(mus, sigmas, Us):
            if s != 0:
                reg = relative_entropy(mu, sp.exp(-U)) if U is not None else entropy(mu)
                E = E + s**2 / 2 * reg
        if any(s != 0 for s in sigmas):
            self.name = "coupled mean-field Langevin dynamics"
        self.functional = F
        self.energy = E
        _, y = working_point(mus[0].point("y"), mus[0], [E])
        self.point = y
        self.localizer = Localizer(y)
        potentials, equations, claimed = [], [], sp.S.Zero
        for mu in mus:
            phi = self.localizer.local(first_variation(E, mu, at=y))
            m = mu.density(*y)
            gphi = grad(phi, y)
            potentials.append(phi)
            equations.append(FieldEquation(m, tuple(m * g for g in gphi), sp.S.Zero, phi))
            claimed += -m * _dot(gphi, gphi)
        self.potentials = dict(zip(mus, potentials))
        self.equations = tuple(equations)
        self.claimed = claimed
        self.measures = {eq.field: mu for eq, mu in zip(equations, mus)}

    def _index(self, mu) -> int:
        if mu not in self.potentials:
            raise NotAMeasureError(
                f"{mu!r} is not one of the measures of this system "
                f"({', '.join(m.name for m in self.mus)})"
            )
        return self.mus.index(mu)

    def velocity(self, mu, at=None) -> sp.Matrix:
        r"""The velocity :math:`-\nabla\frac{\delta E}{\delta m_k}` of the measure ``mu``
        at ``at`` (default: the flow's point)."""
        self._index(mu)
        v = sp.Matrix([-self.nonlocal_(g) for g in grad(self.potentials[mu], self.point)])
        if at is None:
            return v
        pt, _ = working_point(at, mu, [])
        return v.applyfunc(lambda e: substitute(e, dict(zip(self.point, pt))))

    def sde(self, mu, at=None) -> tuple[sp.Matrix, sp.Expr]:
        r"""``(drift, sigma)`` of the particles of ``mu``: :math:`\frac{\delta E}{\delta m_k}`
        must depend on the densities only through :math:`\kappa\log m_k` (read as noise,
        :math:`\sigma = \sqrt{2\kappa}`); a drift through another species' density (a
        cross-diffusion) has no reading with independent particles."""
        self._index(mu)
        phi = self.potentials[mu]
        m = mu.density(*self.point)
        split = log_density_split(phi, m)
        others = [f for f in self.measures if split is not None and split[1].has(f)]
        if split is None or others:
            dens = sp.Add(*[t for t in sp.Add.make_args(sp.expand(phi))
                            if any(t.has(f) for f in self.measures)])
            raise NoParticleReadingError(
                f"dE/d{mu.name} contains the density term {sp.sstr(dens)}, which is not "
                f"kappa*log({sp.sstr(m)}): a nonlinear or cross-diffusion has no SDE "
                f"reading with independent Brownian particles"
            )
        kappa, rest = split
        drift = sp.Matrix([-self.nonlocal_(g) for g in grad(rest, self.point)])
        if at is not None:
            pt, _ = working_point(at, mu, [])
            drift = drift.applyfunc(lambda e: substitute(e, dict(zip(self.point, pt))))
        return drift, sp.simplify(sp.sqrt(2 * kappa))
