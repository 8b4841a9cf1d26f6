r"""Lowering: a derived flow becomes the compiled callables a scheme steps with.

The one seam between the symbolic stages and the integrators.  Each function here takes
a flow (with its ``data`` and parameter ``values``, checked by :mod:`.inputs`) and returns
plain JAX callables with the data arrays and parameter values bound: the first variation
:math:`\xi = \delta E/\delta m` and its gradient (the drift) at the particles or the cells,
and the energy :math:`E`.  Every scheme in :mod:`mfderive.simulate` is written over such
callables and never sees how they were made (as the integrators of JAX MD,
``jax_md.simulate``, take an energy or force function), so a scheme can be driven by a
field written by hand.

Callables at particles take ``(atoms (N, d), weights (N,))``; on a grid they take the cell
averages of the density (the grid's shape).  Of the simulators' modules only this one
imports :mod:`mfderive.codegen`, and only this one and the input checks of :mod:`.inputs`
(for the :class:`~mfderive.Data` and :class:`~mfderive.Measure` types) import
:mod:`mfderive.derive`; the schemes import neither.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import sympy as sp
from sympy.core.function import AppliedUndef

from ..codegen import compile as compile_expr
from ..derive.euler import grad
from ..derive.integrals import LocalIntegral, MeasureIntegral
from ..derive.measures import Data, Measure
from ..errors import CompileError, NoParticleReadingError, SimulationInputError
from ..flows.base import log_density_split
from .inputs import (
    data_arrays,
    free_parameters,
    inputs,
    parameter_values,
    probability_weights,
    rate,
    real_number,
)

__all__ = [
    "EntropicPotential",
    "GamePotentials",
    "GridPotential",
    "LiftedField",
    "ParticleDrift",
    "ParticlePotential",
    "entropic_potential",
    "game_potentials",
    "grid_potential",
    "LiftedPotentials",
    "lifted_field",
    "lifted_potentials",
    "particle_constraint",
    "particle_drift",
    "particle_potential",
]


def _bind(fn, data_args):
    """``fn`` with the data arrays bound after its own arguments."""
    return lambda *args: fn(*args, *data_args)


# -- particles ------------------------------------------------------------------------------
class ParticleDrift(NamedTuple):
    """``drift(X, w)`` ``(N, d)``: :math:`b = -(D_\\mu F + \\frac{\\sigma^2}{2}\\nabla U)`;
    ``energy(X, w)``: :math:`F` without its local terms; ``sigma``: the noise."""

    drift: Callable
    energy: Callable
    sigma: float


def particle_drift(flow, data=None, values=None, chunk_size=None) -> ParticleDrift:
    """The SDE of a :class:`~mfderive.WassersteinFlow` (``flow.sde()``) at its particles.
    Local terms of ``F`` (an entropy, read as noise by ``flow.sde()``) are left out of the
    energy: an empirical measure has no density.

    >>> import jax.numpy as jnp, sympy as sp, mfderive as mf
    >>> u = sp.Symbol("u", real=True); mu = mf.Measure("mu", (u,))
    >>> drift, energy, sigma = particle_drift(mf.WassersteinFlow(mf.integral(u**2 / 2, mu), mu))
    >>> X, w = jnp.array([[1.0], [3.0]]), jnp.array([0.5, 0.5])
    >>> drift(X, w).ravel().tolist(), float(energy(X, w)), sigma
    ([-1.0, -3.0], 2.5, 0.0)
    """
    mu = flow.mu
    drift, sigma = flow.sde()
    values, measures, data_args = inputs(mu, data, values, [drift, sigma, flow.functional], flow.point)
    noise = real_number(sigma.subs(values), f"the noise sigma = {sigma}")
    energy = flow.functional.subs(values).replace(lambda e: isinstance(e, LocalIntegral), lambda e: sp.S.Zero)
    drift_fn = compile_expr(drift.subs(values), measures, at=flow.point, points_from=mu, chunk_size=chunk_size)
    energy_fn = compile_expr(energy, measures, chunk_size=chunk_size)
    return ParticleDrift(_bind(drift_fn, data_args), _bind(energy_fn, data_args), noise)


def particle_constraint(flow):
    r"""The constraint of the particles of ``flow`` from the domain of its measure: a
    :class:`~mfderive.simulate.manifolds.SphereConstraint` listing the sphere blocks of a
    measure over a product with sphere factors (``Measure(..., domain=Sphere(k) * Reals(1))``),
    or None on :math:`\mathbb R^d`.

    >>> import sympy as sp, mfderive as mf
    >>> from mfderive.derive.domains import Sphere, Reals
    >>> t1, t2, r = sp.symbols("t1 t2 r", real=True)
    >>> mu = mf.Measure("mu_pc", (t1, t2, r), domain=Sphere(2) * Reals(1))
    >>> particle_constraint(mf.WassersteinFlow(mf.integral(r**2, mu), mu))
    SphereConstraint(blocks=((0, 2),))
    """
    from .manifolds import SphereConstraint

    domain = getattr(flow.mu, "domain", None)
    if domain is None or domain.is_euclidean:
        return None
    return SphereConstraint(tuple((s.start, s.stop) for s in domain.sphere_blocks()))


class ParticlePotential(NamedTuple):
    """``field(X, w)`` ``(N, 1 + d)``: the columns :math:`V, \\nabla V` of
    :math:`V = \\delta F/\\delta\\mu` at the particles; ``energy(X, w)``; ``alpha``: the
    Fisher–Rao rate."""

    field: Callable
    energy: Callable
    alpha: float


def particle_potential(flow, data=None, values=None, chunk_size=None) -> ParticlePotential:
    """The first variation and its gradient of an :class:`~mfderive.UnbalancedFlow` at its particles."""
    mu, y = flow.mu, flow.point
    V = flow.nonlocal_(flow.potential)
    gV = [flow.nonlocal_(g) for g in grad(flow.potential, y)]
    values, measures, data_args = inputs(mu, data, values, [V, *gV, flow.energy, flow.alpha], y)
    alpha = rate(flow.alpha, values)
    field_fn = compile_expr([e.subs(values) for e in (V, *gV)], measures, at=y, points_from=mu,
                            chunk_size=chunk_size)
    energy_fn = compile_expr(flow.energy.subs(values), measures, chunk_size=chunk_size)
    return ParticlePotential(_bind(field_fn, data_args), _bind(energy_fn, data_args), alpha)


class GamePotentials(NamedTuple):
    """Both players' fields ``fx(x, wx, y, wy)`` ``(N, 1 + dx)`` (columns :math:`V_x,
    \\nabla V_x`) and ``fy`` likewise, the ``value`` :math:`\\mathcal L`, the first
    variations at given points ``vx_at(x, wx, y, wy, P)`` and ``vy_at``, and ``alpha``."""

    fx: Callable
    fy: Callable
    value: Callable
    vx_at: Callable
    vy_at: Callable
    alpha: float


def game_potentials(game, values=None) -> GamePotentials:
    """The first variations of a :class:`~mfderive.flows.games.ZeroSumGame` and their gradients
    at both players' particles."""
    params = free_parameters([game.Vx, game.Vy, game.loss, game.alpha], (*game.px, *game.py))
    values = parameter_values(values, params)
    alpha = rate(game.alpha, values)
    ms = [game.mu_x, game.mu_y]
    Vx, Vy = game.Vx.subs(values), game.Vy.subs(values)
    fx = compile_expr([Vx, *[sp.diff(Vx, p) for p in game.px]], ms, at=game.px, points_from=game.mu_x)
    fy = compile_expr([Vy, *[sp.diff(Vy, p) for p in game.py]], ms, at=game.py, points_from=game.mu_y)
    return GamePotentials(fx, fy, compile_expr(game.loss.subs(values), ms),
                          compile_expr(Vx, ms, at=game.px), compile_expr(Vy, ms, at=game.py), alpha)


# -- grids ----------------------------------------------------------------------------------
class GridPotential(NamedTuple):
    r"""``potential(m)``: :math:`\xi` at the cells; ``energy(m)``: :math:`E_h`;
    ``limits(m)``: ``(transport, diffusivity)`` at the cells (see :func:`_split_potential`);
    ``positive``: the density must be positive (``ξ`` has :math:`\log m`); ``probability``:
    it must have mass 1 (``ξ`` has nonlocal terms, derived for probability measures)."""

    potential: Callable
    energy: Callable
    limits: Callable
    positive: bool
    probability: bool


def _split_potential(xi, m):
    r"""``(transport, diffusivity)`` of :math:`\xi = \delta E/\delta m` at the point: the
    terms free of the density :math:`m(y)` (their gradient is the velocity of a transport),
    and :math:`D = m\,\partial\xi/\partial m` of the others (the flux :math:`m\nabla\xi`
    of a term :math:`\phi(m)` is :math:`D\nabla m`: entropy :math:`\kappa\log m` gives
    :math:`D = \kappa`, :math:`\int m^2/2` gives :math:`D = m`).  The diffusivity is 0
    when a term has derivatives of the density (a fourth-order flow, e.g. Fisher
    information), whose step limit is not checked."""
    terms = sp.Add.make_args(sp.expand(xi))
    local = sp.Add(*[t for t in terms if t.has(m)])
    transport = sp.Add(*[t for t in terms if not t.has(m)])
    return transport, (sp.S.Zero if local.has(sp.Derivative) else m * sp.diff(local, m))


def grid_potential(flow, grid, data=None, values=None) -> GridPotential:
    """The first variation of a :class:`~mfderive.WassersteinFlow` compiled on ``grid``
    (midpoint sums, finite differences: :func:`mfderive.compile` with ``grids=``)."""
    mu, y = flow.mu, flow.point
    xi = flow.nonlocal_(flow.potential)
    values, measures, data_args = inputs(mu, data, values, [xi, flow.energy], y)
    xi = xi.subs(values)
    m_y, grids = mu.density(*y), {mu: grid}
    xi_fn = compile_expr(xi, measures, at=y, points_from=mu, grids=grids)
    energy_fn = compile_expr(flow.energy.subs(values), measures, grids=grids)
    limits_fn = compile_expr(list(_split_potential(xi, m_y)), measures, at=y, points_from=mu,
                             grids=grids, jit=False)

    def limits(m):
        parts = limits_fn(m, *data_args)
        return parts[..., 0], parts[..., 1]

    # the engine's calculus treats mu as a probability measure (∫ c dmu = c)
    probability = any(A.measure == mu for A in xi.atoms(MeasureIntegral))
    return GridPotential(_bind(xi_fn, data_args), _bind(energy_fn, data_args), limits,
                         xi.has(sp.log(m_y)), probability)


class EntropicPotential(NamedTuple):
    r""":math:`\xi = \kappa\log m + \xi_R`: the constant ``kappa``, ``rest(m)``
    (:math:`\xi_R` at the cells) and ``energy(m)``."""

    kappa: float
    rest: Callable
    energy: Callable


def entropic_potential(flow, grid, data=None, values=None) -> EntropicPotential:
    """:func:`grid_potential`'s first variation split into its entropy and the rest."""
    mu, y = flow.mu, flow.point
    xi = flow.nonlocal_(flow.potential)
    values, measures, data_args = inputs(mu, data, values, [xi, flow.energy], y)
    xi = xi.subs(values)
    split = log_density_split(xi, mu.density(*y))
    if split is None or not split[0].is_number:
        raise SimulationInputError(
            f"the entropic JKO needs dE/dm = kappa*log(m) + rest with a constant kappa, got {sp.sstr(xi)}"
        )
    grids = {mu: grid}
    rest_fn = compile_expr(split[1], measures, at=y, points_from=mu, grids=grids)
    energy_fn = compile_expr(flow.energy.subs(values), measures, grids=grids)
    return EntropicPotential(float(split[0]), _bind(rest_fn, data_args), _bind(energy_fn, data_args))


# -- the (rho, H) particle reading ------------------------------------------------------------
class LiftedField(NamedTuple):
    r"""On the lifted atoms :math:`(\theta_i, h_i)` ``(n, d + 1)``: ``field(atoms)``
    ``(n, d + 1)`` (the columns :math:`w_1..w_d, -\delta G/\delta H`), ``energy(atoms)``
    (:math:`G`), and the checked ``weights`` :math:`p`."""

    field: Callable
    energy: Callable
    weights: jax.Array


def _lift(expr, rho: Measure, H, lifted: Measure):
    r"""Every :math:`\int g(\xi, H(\xi))\,\rho(d\xi)` in ``expr`` (innermost first) as
    :math:`\int g(\xi, \eta)\,\tilde\rho(d\xi\,d\eta)`, with a fresh bound :math:`\eta`."""
    if not expr.has(rho):
        return expr
    if isinstance(expr, MeasureIntegral) and expr.measure == rho:
        inner = _lift(expr.integrand, rho, H, lifted)
        eta = sp.Dummy("h", real=True)
        return MeasureIntegral(inner.xreplace({H(*expr.over): eta}), lifted, (*expr.over, eta))
    return expr.func(*[_lift(a, rho, H, lifted) for a in expr.args])


def _check_concrete(expr, allowed, what: str):
    """Raise when ``expr`` has an undefined function (nothing to evaluate it by) or a free
    symbol besides ``allowed`` (nothing binds a parameter)."""
    unknown = sorted(expr.atoms(AppliedUndef), key=sp.default_sort_key)
    if unknown:
        raise CompileError(
            f"{what} contains the undefined function {sp.sstr(unknown[0])}; on particles every "
            f"function of G but H must be a concrete expression (substitute one into G)"
        )
    free = expr.free_symbols - set(allowed)
    if free:
        names = ", ".join(sorted(sp.sstr(s) for s in free))
        raise CompileError(
            f"{what} has the free symbol(s) {names}; substitute numbers for them in G "
            f"(G.subs({{symbol: value}})) before building the RhoHFlow"
        )


def _lifted(flow, rows, velocity_rows=()):
    r"""``(lifted, point, rows, energy)``: the measure :math:`\tilde\rho` (variables
    :math:`(\xi, \eta)`), the point :math:`(y, \eta_y)`, the expressions ``rows`` at it
    and :math:`G`, all free of :math:`H` and :math:`\rho`.  The rows numbered in
    ``velocity_rows`` are the particle velocity (refused when they involve :math:`\nabla H`)."""
    rho, H, y = flow.rho, flow.H, flow.point
    if flow.energy.atoms(LocalIntegral):
        raise NoParticleReadingError(
            f"G has a local term (entropy, integral of the density) of {rho.name!r}: an "
            f"empirical measure has no density, so this system has no particle reading"
        )
    rows = [sp.expand(flow.nonlocal_(e)) for e in rows]
    for what, e in (("the velocity", [rows[i] for i in velocity_rows]), ("G", [flow.energy])):
        if any(D.expr.has(H) for x in e for D in x.atoms(sp.Derivative, sp.Subs)):
            raise NoParticleReadingError(
                f"{what} depends on the gradient of H: this system has no particle "
                f"reading with values H_i alone (simulate it on a grid: mf.rho_h_grid_flow)"
            )
    lifted = Measure(rho.name, (*(sp.Dummy(v.name, **v.assumptions0) for v in rho.variables),
                                sp.Dummy("h", real=True)))
    eta_y = sp.Dummy("h_y", real=True)
    at = (*y, eta_y)
    rows = [_lift(e, rho, H, lifted).xreplace({H(*y): eta_y}) for e in rows]
    for e in rows:
        _check_concrete(e, at, "the particle velocity" if velocity_rows else "dG/drho, dG/dH")
    energy = _lift(flow.energy, rho, H, lifted)
    _check_concrete(energy, (), "G")
    return lifted, at, rows, energy


def _particle_system(flow):
    r"""``(lifted, point, rows, energy)`` of :func:`_lifted` for the rows
    :math:`(w_1, \dots, w_d, -Q)` of a transport-type system."""
    d = flow.rho.dim
    return _lifted(flow, (*flow.v, -flow.Q), velocity_rows=range(d))


def lifted_field(flow, weights, data=None, chunk_size=None) -> LiftedField:
    r"""The velocity and :math:`-\delta G/\delta H` of a transport-type
    :class:`~mfderive.RhoHFlow` on the lifted measure :math:`\sum_i p_i\delta_{(\theta_i, h_i)}`
    (see :mod:`mfderive.simulate.rho_h`), compiled once with ``points_from`` it, and
    :math:`G`; both are traced here, so that a :class:`~mfderive.errors.CompileError` is
    raised at set-up.  ``chunk_size``: evaluate the field at that many particles at a time
    (:func:`mfderive.compile`), bounding the memory of pairwise terms."""
    p = probability_weights(weights, flow.rho.name)
    lifted, at, rows, energy = _particle_system(flow)
    needed = sorted(set().union(*[e.atoms(Data) for e in (*rows, energy)]), key=lambda m: m.name)
    measures, data_args = data_arrays(flow.rho, data, needed)
    measures[0] = lifted  # rho's atoms are the particles: (theta_i, h_i) with weights p
    rows_fn = compile_expr(rows, measures, at=at, points_from=lifted, chunk_size=chunk_size)
    energy_fn = compile_expr(energy, measures, chunk_size=chunk_size)
    pw = jnp.asarray(p)
    spec = jax.ShapeDtypeStruct((p.size, flow.rho.dim + 1), pw.dtype)
    jax.eval_shape(rows_fn, spec, pw, *data_args)
    jax.eval_shape(energy_fn, spec, pw, *data_args)
    return LiftedField(lambda atoms: rows_fn(atoms, pw, *data_args),
                       lambda atoms: energy_fn(atoms, pw, *data_args), pw)


class LiftedPotentials(NamedTuple):
    r"""On atoms :math:`(\xi_j, h_j)` ``(n, d + 1)`` with weights ``p`` ``(n,)``:
    ``potentials(atoms, p)`` ``(n, 2)``, the columns :math:`P = \delta G/\delta\rho` and
    :math:`Q = \delta G/\delta H` at the atoms; ``energy(atoms, p)``: :math:`G`."""

    potentials: Callable
    energy: Callable


def lifted_potentials(flow, n: int, data=None) -> LiftedPotentials:
    r"""The first variations :math:`P = \delta G/\delta\rho` and :math:`Q = \delta G/\delta H`
    of a :class:`~mfderive.RhoHFlow` (any variant) and :math:`G` itself, compiled once on
    the lifted measure :math:`\sum_j p_j\delta_{(\xi_j, h_j)}` with the weights an argument
    (see :mod:`mfderive.simulate.rho_h`); on the cells of a grid (:math:`\xi_j` the centres,
    :math:`h_j = H(\xi_j)`, :math:`p_j = m_j|C|`) this is the midpoint rule of
    ``mf.compile(..., grids=...)`` with :math:`H` sampled at the centres.  Neither
    :math:`P` nor :math:`Q` has a derivative of :math:`H` (the gradients are left to the
    scheme), so every variant lowers.  Traced here for ``n`` atoms, so that a
    :class:`~mfderive.errors.CompileError` is raised at set-up."""
    lifted, at, rows, energy = _lifted(flow, (flow.P, flow.Q))
    needed = sorted(set().union(*[e.atoms(Data) for e in (*rows, energy)]), key=lambda m: m.name)
    measures, data_args = data_arrays(flow.rho, data, needed)
    measures[0] = lifted
    rows_fn = compile_expr(rows, measures, at=at, points_from=lifted)
    energy_fn = compile_expr(energy, measures)
    spec = jax.ShapeDtypeStruct((n, flow.rho.dim + 1), jnp.float64 if jax.config.jax_enable_x64 else jnp.float32)
    wspec = jax.ShapeDtypeStruct((n,), spec.dtype)
    jax.eval_shape(rows_fn, spec, wspec, *data_args)
    jax.eval_shape(energy_fn, spec, wspec, *data_args)
    return LiftedPotentials(lambda atoms, p: rows_fn(atoms, p, *data_args),
                            lambda atoms, p: energy_fn(atoms, p, *data_args))
