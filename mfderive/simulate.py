r"""Particle simulators for Wasserstein flows, driven by compiled derivations.

``init_fn, step_fn = particle_flow(flow, data=..., values=..., dt=...)`` follows the
JAX MD convention: pure functions, the state an explicit value.  ``step_fn`` advances
the empirical measure :math:`\mu_N = \frac1N\sum_i\delta_{X_i}` by one Euler–Maruyama step
of the flow's particle system,

.. math:: X_i \leftarrow X_i + \Delta t\,b(\mu_N, X_i) + \sigma\sqrt{\Delta t}\,\xi_i,

with the drift :math:`b = -(D_\mu F + \frac{\sigma^2}{2}\nabla U)` derived by the engine
(``flow.sde()``) and compiled by :func:`mfderive.compile` (for :math:`\sigma = 0` this is
gradient descent on the particles, seed 002 §2.2.1(ii)).  :func:`run` repeats it inside
``lax.scan``, recording the energy :math:`F(\mu_N)` and the mean squared drift, and
stops with :class:`SimulationError` naming the step where a value became NaN or infinite.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp

from .codegen import compile as compile_expr
from .errors import MfDeriveError
from .evaluate import evaluate
from .flows import RhoHFlow, WassersteinFlow
from .integrals import LocalIntegral

__all__ = [
    "ParticleState", "RhoHState", "SimulationError", "particle_flow", "rho_h_flow",
    "rho_h_particle_field", "run",
]


class SimulationError(MfDeriveError, FloatingPointError):
    """A simulation produced a non-finite value."""


@jax.tree_util.register_dataclass
@dataclass
class ParticleState:
    """Particles ``(N, d)``, the PRNG key, the time and the step count."""

    particles: jax.Array
    key: jax.Array
    t: jax.Array
    step: jax.Array


def parameter_values(values):
    """``{Symbol: number}`` from a dict keyed by symbols or their names."""
    return {sp.sympify(k): v for k, v in (values or {}).items()}


def inputs(mu, data, values):
    """``(values, measures, data_args)``: the parameter values, the measures a compiled
    function takes (``mu`` first, then the data measures) and the data arrays, flattened in
    that order.  Shared by every simulator."""
    data = dict(data or {})
    return parameter_values(values), [mu, *data], [jnp.asarray(a) for pts_w in data.values() for a in pts_w]


def rate(expr, values, name="alpha"):
    """A flow's rate (e.g. the Fisher–Rao α) as a non-negative float, after ``values``."""
    r = sp.sympify(expr).subs(values)
    if not r.is_number or r < 0:
        raise ValueError(f"{name} must be a non-negative number (pass values=), got {r}")
    return float(r)


def init_particles(particles, key):
    """:class:`ParticleState` from ``(N,)`` or ``(N, d)`` positions and a PRNG key."""
    X = jnp.asarray(particles)
    X = X[:, None] if X.ndim == 1 else X
    return ParticleState(X, key, jnp.zeros((), X.dtype), jnp.zeros((), jnp.int32))


def particle_flow(flow: WassersteinFlow, data=None, values=None, dt=1e-2, chunk_size=None,
                  snapshots=False):
    r"""``(init_fn, step_fn, observe_fn)`` for the particles of a :class:`WassersteinFlow`.

    Parameters
    ----------
    flow : WassersteinFlow (deterministic or MFLD)
    data : dict ``{Data: (points, weights)}`` for the fixed measures the energy uses
    values : dict ``{Symbol: number}`` for the flow's parameters (e.g. σ)
    dt : time step
    chunk_size : passed to :func:`mfderive.compile` (memory for large N×M)
    snapshots : record the particles too (``observe_fn`` then returns a dict with
        ``energy``, ``dissipation`` and ``particles``)

    ``init_fn(particles, key)`` → state; ``step_fn(state)`` → state;
    ``observe_fn(state)`` → ``(energy F(μ_N), mean |drift|²)``, where local terms of ``F``
    (an entropy, read as noise by ``flow.sde()``) are left out of the recorded energy: an
    empirical measure has no density.
    """
    if not isinstance(flow, WassersteinFlow):
        raise TypeError(f"particle_flow needs a WassersteinFlow, got {type(flow).__name__}")
    values, measures, data_args = inputs(flow.mu, data, values)
    drift, sigma = flow.sde()
    drift = drift.subs(values)
    sigma = float(sp.sympify(sigma).subs(values))
    # local terms (entropy, ∫m²) have no value on particles: the recorded energy is F without them
    energy = flow.functional.subs(values).replace(lambda e: isinstance(e, LocalIntegral), lambda e: sp.S.Zero)
    mu = flow.mu
    drift_fn = compile_expr(drift, measures, at=flow.point, points_from=mu, chunk_size=chunk_size)
    energy_fn = compile_expr(energy, measures, chunk_size=chunk_size)
    dt = float(dt)

    init_fn = init_particles

    def _weights(X):
        return jnp.full((X.shape[0],), 1.0 / X.shape[0], X.dtype)

    def step_fn(state: ParticleState) -> ParticleState:
        X = state.particles
        b = drift_fn(X, _weights(X), *data_args).astype(X.dtype)
        key, sub = jax.random.split(state.key)
        if sigma != 0.0:
            X = X + dt * b + sigma * jnp.sqrt(dt) * jax.random.normal(sub, X.shape, X.dtype)
        else:
            X = X + dt * b
        return ParticleState(X, key, state.t + dt, state.step + 1)

    def observe_fn(state: ParticleState):
        X = state.particles
        w = _weights(X)
        b = drift_fn(X, w, *data_args)
        obs = energy_fn(X, w, *data_args), jnp.mean(jnp.sum(b * b, axis=-1))
        return {"energy": obs[0], "dissipation": obs[1], "particles": X} if snapshots else obs

    return init_fn, step_fn, observe_fn


def rho_h_particle_field(flow: RhoHFlow, weights, data=None):
    r"""The particle reading of a transport-type :math:`(\rho,H)` system.

    On :math:`\rho = \sum_i p_i\delta_{\theta_i}` with values :math:`H_i = H(\theta_i)`, the
    characteristics of :math:`\partial_t\rho + \operatorname{div}(\rho w) = 0`,
    :math:`\partial_t H + w\cdot\nabla H = -\frac{\delta G}{\delta H}` are
    :math:`\theta_i' = w(\theta_i)`, :math:`H_i' = -\frac{\delta G}{\delta H}(\theta_i)`
    (for the chaos system, the weighted gradient flow of Prop. 3.3).  The velocity and
    :math:`\delta G/\delta H` are the flow's derived expressions, evaluated on the particles
    (symbolic positions and values, fixed weights ``p`` and ``data``) and lambdified to JAX.
    The velocity must not depend on :math:`\nabla H` (true for the chaos system).

    Returns ``field(theta, h) -> (dtheta, dh)`` with ``theta`` of shape ``(n, d)`` (or ``(n,)``
    for one variable) and ``h`` of shape ``(n,)``; ``field.energy(theta, h)`` is :math:`G`
    on the same particles.
    """
    if not isinstance(flow, RhoHFlow) or flow.variant == "separated":
        raise TypeError("rho_h_particle_field needs a transported or chaos RhoHFlow")
    y, H = flow.point, flow.H
    v = [sp.expand(vi) for vi in flow.v]
    if any(vi.has(sp.Derivative(H(*y), yi)) for vi in v for yi in y):
        raise ValueError(
            "the velocity depends on the gradient of H: this system has no particle reading "
            "with values H_i alone"
        )
    n, d = len(weights), len(y)
    ts = [sp.symbols(f"theta{i}_0:{d}", real=True) for i in range(n)]
    hs = sp.symbols(f"h0:{n}", real=True)
    spec = {flow.rho: ([tuple(t) for t in ts], list(weights)), **dict(data or {})}
    values = {H(*t): hv for t, hv in zip(ts, hs)}
    rows = []
    for field in (*v, -flow.Q):
        e = evaluate(flow.nonlocal_(field), spec).xreplace(values)
        rows.append([e.xreplace({**dict(zip(y, ts[i])), H(*y): hs[i]}) for i in range(n)])
    flat = [c for t in ts for c in t]
    f = sp.lambdify([flat, list(hs)], rows, "jax")

    def field(theta, h):
        th = jnp.reshape(theta, (n * d,))
        out = [jnp.stack(r) for r in f(list(th), list(h))]
        dtheta = jnp.stack(out[:d], axis=-1)
        return (dtheta[:, 0] if jnp.ndim(theta) == 1 else dtheta), out[d]

    field.energy = _particle_energy(flow, ts, hs, spec, values)
    return field


def _particle_energy(flow, ts, hs, spec, values):
    """G on the particles, lambdified like the field."""
    d = len(flow.point)
    G = evaluate(flow.energy, spec).xreplace(values)
    g = sp.lambdify([[c for t in ts for c in t], list(hs)], G, "jax")
    return lambda theta, h: g(list(jnp.reshape(theta, (len(hs) * d,))), list(h))


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
    field of :func:`rho_h_particle_field`).

    ``init_fn(theta, h, dt=None)`` → :class:`RhoHState` (``dt`` overrides the default
    step; the compiled step is shared); ``observe_fn(state)`` → dict with
    ``energy`` :math:`G` and ``dissipation`` :math:`\sum_i p_i(|\theta_i'|^2 + h_i'^2)`,
    the rate of Prop. 3.3 on the particles.
    """
    field = rho_h_particle_field(flow, weights, data)
    p = jnp.asarray([float(w) for w in weights])
    default_dt = float(dt)

    def init_fn(theta, h, dt=None):
        theta, h = jnp.asarray(theta), jnp.asarray(h)
        if h.shape != (len(p),) or theta.shape[0] != len(p):
            raise ValueError(f"theta and h must have {len(p)} rows (one per weight), got {theta.shape}, {h.shape}")
        step = jnp.asarray(default_dt if dt is None else float(dt), h.dtype)
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


_SCANNERS: dict = {}


def _finite(state):
    """All floating-point leaves of a state finite (keys and counters skipped)."""
    leaves = [x for x in jax.tree_util.tree_leaves(state) if jnp.issubdtype(x.dtype, jnp.inexact)]
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in leaves])) if leaves else jnp.array(True)


def _scanner(step_fn, observe_fn):
    """The jitted ``lax.scan`` over recording blocks (cached per step/observe pair; the
    block length is a traced value, so changing ``record_every`` does not recompile)."""
    key = (step_fn, observe_fn)
    if key not in _SCANNERS:

        def scan(s, every, n):
            def block(s, _):
                s = jax.lax.fori_loop(0, every, lambda i, c: step_fn(c), s)
                obs = observe_fn(s) if observe_fn is not None else ()
                return s, (s.step, _finite(s), obs)

            return jax.lax.scan(block, s, None, length=n)

        _SCANNERS[key] = jax.jit(scan, static_argnums=2)
    return _SCANNERS[key]


def run(step_fn, state, steps: int, observe_fn=None, record_every: int = 1, progress: bool = False):
    """Advance ``state`` by ``steps`` steps in ``lax.scan``; record ``observe_fn`` every
    ``record_every`` steps.  Returns ``(state, trace)`` with ``trace`` a dict of arrays:
    ``step``, and what ``observe_fn`` returns — a dict (its keys), or a pair read as
    ``energy``, ``dissipation``.  Works for any state with a ``step`` field (particles,
    grids, games).

    With ``progress=True`` the scan runs in up to 20 segments and prints after each.
    Raises :class:`SimulationError` at the first non-finite recorded value or state."""
    if steps % record_every:
        raise ValueError(f"steps ({steps}) must be a multiple of record_every ({record_every})")
    n_rec = steps // record_every
    segments = min(20, n_rec) if progress else 1
    sizes = [n_rec // segments + (1 if i < n_rec % segments else 0) for i in range(segments)]
    scan = _scanner(step_fn, observe_fn)
    outs = []
    for i, n in enumerate(sizes):
        state, out = scan(state, jnp.int32(record_every), n)
        outs.append(out)
        if progress:
            done = sum(sizes[: i + 1]) * record_every
            print(f"\r  step {done}/{steps}", end="" if i + 1 < segments else "\n", file=sys.stderr, flush=True)
        if not bool(out[1][-1]):
            break
    step = np.concatenate([np.asarray(o[0]) for o in outs])
    finite = np.concatenate([np.asarray(o[1]) for o in outs])
    trace = {"step": step}
    if observe_fn is not None:
        first = outs[0][2]
        names = list(first) if isinstance(first, dict) else ["energy", "dissipation"]
        for i, name in enumerate(names):
            trace[name] = np.concatenate(
                [np.asarray(o[2][name] if isinstance(first, dict) else o[2][i]) for o in outs]
            )
            finite = finite & np.all(np.isfinite(trace[name]).reshape(len(finite), -1), axis=1)
    if not finite.all():
        k = int(step[np.argmin(finite)])
        raise SimulationError(
            f"a value became NaN or infinite by step {k} (recorded every {record_every}); "
            f"the step size is probably too large for this flow: try a smaller dt"
        )
    return state, trace
