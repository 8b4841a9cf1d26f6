r"""The particle reading of a transport-type :math:`(\rho,H)` system (Fernández-Real & Figalli
2022), stepped by classical RK4.

On :math:`\rho = \sum_i p_i\delta_{\theta_i}` with values :math:`h_i = H(\theta_i)`, the
characteristics of the chaos system

.. math:: \partial_t\rho + \operatorname{div}(\rho w) = 0,\qquad
          \partial_t H + w\cdot\nabla H = -\frac{\delta G}{\delta H}

are the ODEs :math:`\theta_i' = w(\theta_i)`, :math:`h_i' = -\frac{\delta G}{\delta H}(\theta_i)`
(for the chaos system the weighted gradient flow of Fernández-Real & Figalli's Prop. 3.3,
:math:`\theta_i' = -\frac1{p_i}\partial_{\theta_i}G`, :math:`h_i' = -\frac1{p_i}\partial_{h_i}G`).

**Lifting.**  Only the values of :math:`H` at the atoms enter, so the pair
:math:`(\rho, H)` is read as one measure :math:`\tilde\rho = \sum_i p_i\delta_{(\theta_i, h_i)}`
on :math:`d + 1` variables: every integral :math:`\int g(\xi, H(\xi))\,\rho(d\xi)` of the
derived expressions becomes :math:`\int g(\xi, \eta)\,\tilde\rho(d\xi\,d\eta)`, and
:math:`H(y)` at the point becomes one more coordinate :math:`\eta_y` of the point.  The
velocity :math:`w` and :math:`-\delta G/\delta H` are then compiled once with
``points_from=`` :math:`\tilde\rho` (evaluated at the atoms themselves), and :math:`G` without
a point (:func:`.lower.lifted_field`).  Nothing is generated from names: SymPy objects are
walked by :mod:`mfderive.codegen`, so a user-chosen name is never printed nor executed, and
the set-up does not depend on the number of particles.  The separated and transported
systems, whose velocity :math:`-\nabla\frac{\delta G}{\delta\rho}` contains :math:`\nabla H`,
have no particle reading with values alone; :mod:`.rho_h_grid` simulates them on a grid.
:func:`rk4` is the scheme for any field ``(theta, h) -> (dtheta, dh)``; it is fourth order in ``dt`` (:data:`ORDER`).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp

from ..errors import NoParticleReadingError, NotAFlowError, SimulationInputError
from ..flows.rho_h import RhoHFlow
from .inputs import float_array, time_step
from .lower import lifted_field
from .sharding import constrain_rows, particle_sharding, place_state

__all__ = ["ORDER", "RhoHState", "rho_h_flow", "rho_h_particle_field", "rk4"]

#: order of the classical Runge–Kutta step in ``dt`` (global error)
ORDER = 4


def _check_flow(flow) -> RhoHFlow:
    """``flow`` if it is a :class:`RhoHFlow` whose ``H`` is transported with ``rho``."""
    if not isinstance(flow, RhoHFlow):
        raise NotAFlowError(
            f"the (rho, H) particle reading needs a chaos or transported mf.RhoHFlow, got "
            f"{type(flow).__name__}"
        )
    if flow.variant == "separated":
        raise NoParticleReadingError(
            "the separated (rho, H) system does not transport H with rho: it has no particle "
            "reading with values H_i; simulate it on a grid (mf.rho_h_grid_flow) or use the "
            "'chaos' variant"
        )
    return flow


def _check_shapes(theta, h, n: int, d: int) -> None:
    """``theta`` of shape ``(n, d)`` (or ``(n,)`` when ``d = 1``) and ``h`` of shape ``(n,)``."""
    if theta.shape not in ({(n,), (n, d)} if d == 1 else {(n, d)}) or h.shape != (n,):
        raise SimulationInputError(
            f"theta must have shape ({n}, {d})" + (f" or ({n},)" if d == 1 else "")
            + f" and h shape ({n},), one row per weight; got {theta.shape} and {h.shape}"
        )


def rho_h_particle_field(flow: RhoHFlow, weights, data=None, chunk_size=None):
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
    chunk_size : evaluate at that many particles at a time (bounds the memory of pairwise
        terms, :math:`O(\text{chunk}\cdot n)` instead of :math:`O(n^2)`); ``None``: all at once

    Returns ``field(theta, h) -> (dtheta, dh)`` with ``theta`` of shape ``(n, d)`` (or ``(n,)``
    for one variable) and ``h`` of shape ``(n,)``; ``field.energy(theta, h)`` is :math:`G`
    on the same particles and ``field.weights`` the validated weights ``p``.

    Raises :class:`~mfderive.NoParticleReadingError` for a system without a particle reading,
    :class:`~mfderive.errors.SimulationInputError` for bad weights or data (checked here).
    """
    flow = _check_flow(flow)
    rows_fn, energy_fn, pw = lifted_field(flow, weights, data, chunk_size)
    n, d = pw.shape[0], flow.rho.dim

    def atoms(theta, h):
        theta, h = jnp.asarray(theta), jnp.asarray(h)
        _check_shapes(theta, h, n, d)
        return jnp.concatenate([jnp.reshape(theta, (n, d)), h[:, None]], axis=1)

    def field(theta, h):
        out = rows_fn(atoms(theta, h))
        dtheta = out[:, :d].astype(jnp.result_type(theta))
        return (dtheta[:, 0] if jnp.ndim(theta) == 1 else dtheta), out[:, d].astype(jnp.result_type(h))

    field.energy = lambda theta, h: energy_fn(atoms(theta, h))
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


def rho_h_flow(flow: RhoHFlow, weights, data=None, dt=1e-2, chunk_size=None, sharding=None):
    r"""``(init_fn, step_fn, observe_fn)`` for the particle reading of a chaos (or other
    transport-type) :math:`(\rho,H)` system with fixed weights ``p`` (classical RK4 on the
    field of :func:`rho_h_particle_field`; the global error is :math:`O(\Delta t^4)`).

    ``init_fn(theta, h, dt=None)`` → :class:`RhoHState` (``dt`` overrides the default
    step; the compiled step is shared); ``observe_fn(state)`` → dict with
    ``energy`` :math:`G` and ``dissipation`` :math:`\sum_i p_i(|\theta_i'|^2 + h_i'^2)`,
    the rate of Prop. 3.3 on the particles.  ``weights``, ``data`` and ``dt`` are checked
    here, ``theta``, ``h`` and an overriding ``dt`` in ``init_fn``
    (:class:`~mfderive.errors.SimulationInputError`).  The set-up (lifting, compilation,
    tracing) does not depend on ``n``; a step costs :math:`O(nM)` for integrals against
    ``M`` data points and :math:`O(n^2)` for interaction terms (nested integrals against
    :math:`\rho`), whose memory ``chunk_size`` bounds.

    ``sharding=`` (``True``, a :class:`jax.sharding.Mesh` or a
    :class:`jax.sharding.NamedSharding` of the particle axis) splits ``theta``, ``h`` and
    the weights over the devices (:mod:`.sharding`); ``n`` must be a multiple of their
    number (checked here).
    """
    dt = time_step(dt)
    layout = particle_sharding(sharding)
    field = rho_h_particle_field(flow, weights, data, chunk_size)
    return rk4(field, field.energy, field.weights, flow.rho.dim, dt, layout)


def rk4(field, energy, weights, dim, dt=1e-2, sharding=None):
    r"""``(init_fn, step_fn, observe_fn)`` of classical RK4 (:data:`ORDER` 4) for the
    particle ODE ``field(theta, h) -> (dtheta, dh)`` with weights ``weights`` ``(n,)``
    and ``dim`` variables per particle; ``observe_fn`` records ``energy(theta, h)`` and
    :math:`\sum_i p_i(|\theta_i'|^2 + h_i'^2)` (see :func:`rho_h_flow`, also for ``sharding``).

    >>> import jax.numpy as jnp
    >>> decay = lambda th, h: (-th, -h)                     # theta' = -theta, h' = -h
    >>> init, step, _ = rk4(decay, lambda th, h: 0.0, jnp.ones(2) / 2, 1, dt=0.1)
    >>> s = step(init(jnp.ones(2), jnp.ones(2)))
    >>> bool(abs(float(s.h[0]) - float(jnp.exp(-0.1))) < 1e-6)
    True
    """
    default_dt = time_step(dt)
    layout = particle_sharding(sharding)
    p = jnp.asarray(weights)
    n, d = p.shape[0], dim
    if layout is not None:  # the divisibility is checked here, before init_fn
        p = layout.place(p, "particles (weights)")

    def init_fn(theta, h, dt=None):
        theta, h = float_array(theta, "theta"), float_array(h, "h")
        _check_shapes(theta, h, n, d)
        dtype = jnp.result_type(theta, h)  # one float type for the whole state
        theta, h = theta.astype(dtype), h.astype(dtype)
        step = jnp.asarray(default_dt if dt is None else time_step(dt), h.dtype)
        state = RhoHState(theta, h, step, jnp.zeros((), h.dtype), jnp.zeros((), jnp.int32))
        return place_state(layout, state, {"theta": "particles (theta)", "h": "particles (h)"})

    def step_fn(s: RhoHState) -> RhoHState:
        y, dt = constrain_rows(layout, s.theta, s.h), s.dt
        add = lambda a, b, c: jax.tree_util.tree_map(lambda u, v: u + c * v, a, b)
        k1 = field(*y)
        k2 = field(*add(y, k1, dt / 2))
        k3 = field(*add(y, k2, dt / 2))
        k4 = field(*add(y, k3, dt))
        inc = jax.tree_util.tree_map(lambda a, b, c, e: (a + 2 * b + 2 * c + e) / 6, k1, k2, k3, k4)
        theta, h = constrain_rows(layout, *add(y, inc, dt))
        return RhoHState(theta, h, s.dt, s.t + dt, s.step + 1)

    def observe_fn(s: RhoHState):
        dth, dh = field(s.theta, s.h)
        sq = dth**2 if dth.ndim == 1 else jnp.sum(dth**2, -1)
        return {"energy": jnp.asarray(energy(s.theta, s.h)), "dissipation": jnp.sum(p * (sq + dh**2))}

    return init_fn, step_fn, jax.jit(observe_fn)  # jitted: a call outside run is one dispatch
