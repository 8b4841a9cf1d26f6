r"""The particle reading of a transport-type :math:`(\rho,H)` system, compiled by
:func:`mfderive.compile`.

On :math:`\rho = \sum_i p_i\delta_{\theta_i}` with values :math:`h_i = H(\theta_i)`, the
characteristics of the chaos (or transported) system

.. math:: \partial_t\rho + \operatorname{div}(\rho w) = 0,\qquad
          \partial_t H + w\cdot\nabla H = -\frac{\delta G}{\delta H}

are the ODEs :math:`\theta_i' = w(\theta_i)`, :math:`h_i' = -\frac{\delta G}{\delta H}(\theta_i)`
(for the chaos system the weighted gradient flow of Prop. 3.3,
:math:`\theta_i' = -\frac1{p_i}\partial_{\theta_i}G`, :math:`h_i' = -\frac1{p_i}\partial_{h_i}G`).

**Lifting.**  Only the values of :math:`H` at the atoms enter, so the pair
:math:`(\rho, H)` is read as one measure :math:`\tilde\rho = \sum_i p_i\delta_{(\theta_i, h_i)}`
on :math:`d + 1` variables: every integral :math:`\int g(\xi, H(\xi))\,\rho(d\xi)` of the
derived expressions becomes :math:`\int g(\xi, \eta)\,\tilde\rho(d\xi\,d\eta)`, and
:math:`H(y)` at the point becomes one more coordinate :math:`\eta_y` of the point.  The
velocity :math:`w` and :math:`-\delta G/\delta H` are then compiled once with
``points_from=`` :math:`\tilde\rho` (evaluated at the atoms themselves), and :math:`G` without
a point.  Nothing is generated from names: SymPy objects are walked by
:mod:`mfderive.codegen`, so a user-chosen name is never printed nor executed, and the
set-up does not depend on the number of particles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp
from sympy.core.function import AppliedUndef

from ..codegen.compiler import compile as compile_expr
from ..derive.integrals import LocalIntegral, MeasureIntegral
from ..derive.measures import Data, Measure
from ..errors import (
    CompileError,
    NoParticleReadingError,
    SimulationInputError,
    WrongFlowError,
)
from ..flows.rho_h import RhoHFlow
from .inputs import data_arrays, float_array, time_step

__all__ = ["RhoHState", "rho_h_flow", "rho_h_particle_field"]

def _mass_tolerance(weights, n: int) -> float:
    """How far from 1 the (exactly summed) weights may be: rounding ``n`` weights to the
    input's precision moves their total by at most ``n·eps/2`` (float64: 1e-10 for
    n = 10⁶), so ``max(1e-9, n·eps)``; a real mistake is far larger."""
    dtype = np.asarray(weights).dtype
    eps = np.finfo(dtype).eps if np.issubdtype(dtype, np.floating) else np.finfo(np.float64).eps
    return max(1e-9, n * float(eps))


def _probability_weights(weights, name: str) -> np.ndarray:
    r"""The particle weights :math:`p` as float64: a non-empty 1-D array, finite,
    :math:`p_i \ge 0`, :math:`\sum_i p_i = 1` (``rho`` is a probability measure)."""
    float_array(weights, f"the weights of {name!r}")  # finite real numbers, or raise
    p = np.asarray(weights, dtype=np.float64)  # not the default float: float32 without x64
    if p.ndim != 1 or p.size == 0:
        raise SimulationInputError(
            f"the weights of {name!r} must be a non-empty 1-D sequence (one per particle), "
            f"got shape {p.shape}"
        )
    if np.any(p < 0):
        i = int(np.argmax(p < 0))
        raise SimulationInputError(f"the weights of {name!r} must be non-negative, got p[{i}] = {p[i]:g}")
    total = math.fsum(p)
    if abs(total - 1) > _mass_tolerance(weights, p.size):
        raise SimulationInputError(
            f"the weights of {name!r} sum to {total!r}, but {name!r} is a probability measure: "
            f"normalise them"
        )
    return p


# -- the lifted expressions ------------------------------------------------------------------
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


def _check_flow(flow) -> RhoHFlow:
    """``flow`` if it is a :class:`RhoHFlow` whose ``H`` is transported with ``rho``."""
    if not isinstance(flow, RhoHFlow):
        raise WrongFlowError(
            f"the (rho, H) particle reading needs a chaos or transported mf.RhoHFlow, got "
            f"{type(flow).__name__}"
        )
    if flow.variant == "separated":
        raise NoParticleReadingError(
            "the separated (rho, H) system does not transport H with rho: it has no particle "
            "reading with values H_i; use the 'chaos' or 'transported' variant"
        )
    return flow


def _particle_system(flow: RhoHFlow):
    r"""``(lifted, point, rows, energy)``: the measure :math:`\tilde\rho` (variables
    :math:`(\xi, \eta)`), the point :math:`(y, \eta_y)`, the expressions
    :math:`(w_1, \dots, w_d, -Q)` at it and :math:`G`, all free of :math:`H` and :math:`\rho`."""
    rho, H, y = flow.rho, flow.H, flow.point
    if flow.energy.atoms(LocalIntegral):
        raise NoParticleReadingError(
            f"G has a local term (entropy, integral of the density) of {rho.name!r}: an "
            f"empirical measure has no density, so this system has no particle reading"
        )
    rows = [sp.expand(flow.nonlocal_(e)) for e in (*flow.v, -flow.Q)]
    for what, e in (("the velocity", rows), ("G", [flow.energy])):
        if any(D.expr.has(H) for x in e for D in x.atoms(sp.Derivative, sp.Subs)):
            raise NoParticleReadingError(
                f"{what} depends on the gradient of H: this system has no particle "
                f"reading with values H_i alone"
            )
    lifted = Measure(rho.name, (*(sp.Dummy(v.name, **v.assumptions0) for v in rho.variables),
                                sp.Dummy("h", real=True)))
    eta_y = sp.Dummy("h_y", real=True)
    at = (*y, eta_y)
    rows = [_lift(e, rho, H, lifted).xreplace({H(*y): eta_y}) for e in rows]
    for e in rows:
        _check_concrete(e, at, "the particle velocity")
    energy = _lift(flow.energy, rho, H, lifted)
    _check_concrete(energy, (), "G")
    return lifted, at, rows, energy


def _check_shapes(theta, h, n: int, d: int) -> None:
    """``theta`` of shape ``(n, d)`` (or ``(n,)`` when ``d = 1``) and ``h`` of shape ``(n,)``."""
    if theta.shape not in ({(n,), (n, d)} if d == 1 else {(n, d)}) or h.shape != (n,):
        raise SimulationInputError(
            f"theta must have shape ({n}, {d})" + (f" or ({n},)" if d == 1 else "")
            + f" and h shape ({n},), one row per weight; got {theta.shape} and {h.shape}"
        )


def rho_h_particle_field(flow: RhoHFlow, weights, data=None):
    r"""The particle reading of a transport-type :math:`(\rho,H)` system.

    On :math:`\rho = \sum_i p_i\delta_{\theta_i}` with values :math:`H_i = H(\theta_i)`, the
    characteristics of :math:`\partial_t\rho + \operatorname{div}(\rho w) = 0`,
    :math:`\partial_t H + w\cdot\nabla H = -\frac{\delta G}{\delta H}` are
    :math:`\theta_i' = w(\theta_i)`, :math:`H_i' = -\frac{\delta G}{\delta H}(\theta_i)`
    (for the chaos system, the weighted gradient flow of Prop. 3.3).  The velocity and
    :math:`\delta G/\delta H` are the flow's derived expressions, compiled by
    :func:`mfderive.compile` on the lifted measure :math:`\sum_i p_i\delta_{(\theta_i, H_i)}`
    (see the module docstring) with fixed weights ``p`` and ``data``.  The velocity must not
    depend on :math:`\nabla H` (true for the chaos system).

    Parameters
    ----------
    flow : RhoHFlow, variant ``"chaos"`` or ``"transported"``
    weights : the :math:`n` particle weights :math:`p_i \ge 0`, :math:`\sum_i p_i = 1`
    data : dict ``{Data: (points, weights)}`` for the fixed measures ``G`` integrates against

    Returns ``field(theta, h) -> (dtheta, dh)`` with ``theta`` of shape ``(n, d)`` (or ``(n,)``
    for one variable) and ``h`` of shape ``(n,)``; ``field.energy(theta, h)`` is :math:`G`
    on the same particles and ``field.weights`` the validated weights ``p``.

    Raises :class:`~mfderive.NoParticleReadingError` for a system without a particle reading,
    :class:`~mfderive.errors.SimulationInputError` for bad weights or data (checked here).
    """
    flow = _check_flow(flow)
    p = _probability_weights(weights, flow.rho.name)
    lifted, at, rows, energy = _particle_system(flow)
    needed = sorted(set().union(*[e.atoms(Data) for e in (*rows, energy)]), key=lambda m: m.name)
    measures, data_args = data_arrays(flow.rho, data, needed)
    measures[0] = lifted  # rho's atoms are the particles: (theta_i, h_i) with weights p
    rows_fn = compile_expr(rows, measures, at=at, points_from=lifted)
    energy_fn = compile_expr(energy, measures)
    n, d = p.size, flow.rho.dim
    pw = jnp.asarray(p)
    # trace both now (cached by jit for the first call): a CompileError is raised here
    spec = jax.ShapeDtypeStruct((n, d + 1), pw.dtype)
    jax.eval_shape(rows_fn, spec, pw, *data_args)
    jax.eval_shape(energy_fn, spec, pw, *data_args)

    def atoms(theta, h):
        theta, h = jnp.asarray(theta), jnp.asarray(h)
        _check_shapes(theta, h, n, d)
        return jnp.concatenate([jnp.reshape(theta, (n, d)), h[:, None]], axis=1)

    def field(theta, h):
        out = rows_fn(atoms(theta, h), pw, *data_args)
        dtheta = out[:, :d].astype(jnp.result_type(theta))
        return (dtheta[:, 0] if jnp.ndim(theta) == 1 else dtheta), out[:, d].astype(jnp.result_type(h))

    field.energy = lambda theta, h: energy_fn(atoms(theta, h), pw, *data_args)
    field.weights = pw
    return field


# -- the RK4 simulator ----------------------------------------------------------------------
@jax.tree_util.register_dataclass
@dataclass
class RhoHState:
    """Particle positions ``theta`` (``(n,)`` or ``(n, d)``), values ``h`` (``(n,)``),
    the time step (state, so that one compiled step serves every ``dt``), the time and the
    step count."""

    theta: jax.Array
    h: jax.Array
    dt: jax.Array
    t: jax.Array
    step: jax.Array


def rho_h_flow(flow: RhoHFlow, weights, data=None, dt=1e-2):
    r"""``(init_fn, step_fn, observe_fn)`` for the particle reading of a chaos (or other
    transport-type) :math:`(\rho,H)` system with fixed weights ``p`` (classical RK4 on the
    field of :func:`rho_h_particle_field`; the global error is :math:`O(\Delta t^4)`).

    ``init_fn(theta, h, dt=None)`` → :class:`RhoHState` (``dt`` overrides the default
    step; the compiled step is shared); ``observe_fn(state)`` → dict with
    ``energy`` :math:`G` and ``dissipation`` :math:`\sum_i p_i(|\theta_i'|^2 + h_i'^2)`,
    the rate of Prop. 3.3 on the particles.  ``weights``, ``data`` and ``dt`` are checked
    here, ``theta``, ``h`` and an overriding ``dt`` in ``init_fn``
    (:class:`~mfderive.errors.SimulationInputError`).
    """
    default_dt = time_step(dt)
    field = rho_h_particle_field(flow, weights, data)
    p = field.weights
    n, d = p.shape[0], flow.rho.dim

    def init_fn(theta, h, dt=None):
        theta, h = float_array(theta, "theta"), float_array(h, "h")
        _check_shapes(theta, h, n, d)
        dtype = jnp.result_type(theta, h)  # one float type for the whole state
        theta, h = theta.astype(dtype), h.astype(dtype)
        step = jnp.asarray(default_dt if dt is None else time_step(dt), h.dtype)
        return RhoHState(theta, h, step, jnp.zeros((), h.dtype), jnp.zeros((), jnp.int32))

    def step_fn(s: RhoHState) -> RhoHState:
        y, dt = (s.theta, s.h), s.dt
        add = lambda a, b, c: jax.tree_util.tree_map(lambda u, v: u + c * v, a, b)  # noqa: E731
        k1 = field(*y)
        k2 = field(*add(y, k1, dt / 2))
        k3 = field(*add(y, k2, dt / 2))
        k4 = field(*add(y, k3, dt))
        inc = jax.tree_util.tree_map(lambda a, b, c, e: (a + 2 * b + 2 * c + e) / 6, k1, k2, k3, k4)
        theta, h = add(y, inc, dt)
        return RhoHState(theta, h, s.dt, s.t + dt, s.step + 1)

    def observe_fn(s: RhoHState):
        dth, dh = field(s.theta, s.h)
        sq = dth**2 if dth.ndim == 1 else jnp.sum(dth**2, -1)
        return {"energy": field.energy(s.theta, s.h), "dissipation": jnp.sum(p * (sq + dh**2))}

    return init_fn, step_fn, observe_fn
