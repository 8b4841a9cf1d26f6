r"""Birth–death particles for the Wasserstein–Fisher–Rao flow (seed 003).

For :math:`\partial_t\mu = \operatorname{div}(\mu\nabla V) - \alpha(V-\bar V)\mu`,
:math:`V = \frac{\delta F}{\delta\mu}` (derived by the engine, :class:`~mfderive.UnbalancedFlow`),
the particles :math:`X_1,\dots,X_N` of :math:`\mu_N = \frac1N\sum_i\delta_{X_i}` move and
are born or die (Rotskoff, Jelassi, Bruna, Vanden-Eijnden, ICML 2019):

1. transport: :math:`X_i \leftarrow X_i - \Delta t\,\nabla V(\mu_N, X_i)`;
2. with :math:`\beta_i = \alpha(V(\mu_N, X_i) - \bar V)` and probability
   :math:`1 - e^{-|\beta_i|\Delta t}`: if :math:`\beta_i > 0` particle :math:`i` dies and is
   replaced by a copy of a uniformly chosen particle; if :math:`\beta_i < 0` it is
   duplicated onto a uniformly chosen particle, which dies.

Each event removes one particle and adds one, so the count :math:`N` is preserved and the
empirical measure stays a probability measure; in expectation the weights follow
:math:`\dot w_i = -\beta_i w_i` to first order in :math:`\Delta t`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ..codegen.compiler import compile as compile_expr
from ..derive.euler import grad
from ..errors import NotAFlowError
from ..flows.unbalanced import UnbalancedFlow
from .inputs import count, inputs, rate, time_step
from .particles import ParticleState, init_particles

__all__ = ["birth_death_flow"]


def birth_death_flow(flow: UnbalancedFlow, data=None, values=None, dt=1e-2, chunk_size=None,
                     snapshots=False):
    r"""``(init_fn, step_fn, observe_fn)`` for birth–death particles of an
    :class:`~mfderive.UnbalancedFlow` (same conventions as :func:`mfderive.particle_flow`).

    ``values`` (by Symbol or name) must give every parameter, α included (a number ≥ 0);
    ``init_fn(particles, key)`` checks the particles and key as in ``particle_flow``.
    ``observe_fn(state)`` → dict with ``energy`` :math:`F(\mu_N)`, ``dissipation``
    :math:`\frac1N\sum_i(|\nabla V_i|^2 + \alpha(V_i-\bar V)^2)` (the claimed rate) and
    ``birth_death_rate`` :math:`\frac1N\sum_i|\beta_i|` (and ``particles`` with
    ``snapshots=True``).
    """
    if not isinstance(flow, UnbalancedFlow):
        raise NotAFlowError(f"birth_death_flow needs an UnbalancedFlow, got {type(flow).__name__}")
    dt = time_step(dt)
    if chunk_size is not None:
        chunk_size = count(chunk_size, "chunk_size", 1)
    mu, y = flow.mu, flow.point
    V = flow.nonlocal_(flow.potential)
    gV = [flow.nonlocal_(g) for g in grad(flow.potential, y)]
    values, measures, data_args = inputs(mu, data, values, [V, *gV, flow.energy, flow.alpha], y)
    alpha = rate(flow.alpha, values)
    V, gV = V.subs(values), [g.subs(values) for g in gV]
    field_fn = compile_expr([V, *gV], measures, at=y, points_from=mu, chunk_size=chunk_size)
    energy_fn = compile_expr(flow.energy.subs(values), measures, chunk_size=chunk_size)

    def init_fn(particles, key):
        return init_particles(particles, key, mu.dim)

    def _fields(X):
        w = jnp.full((X.shape[0],), 1.0 / X.shape[0], X.dtype)
        out = field_fn(X, w, *data_args)
        v, g = out[:, 0], out[:, 1:]
        return w, v, g, alpha * (v - jnp.mean(v))

    def step_fn(state: ParticleState) -> ParticleState:
        X = state.particles
        n = X.shape[0]
        _, _, g, beta = _fields(X)
        key, k_event, k_src, k_dst = jax.random.split(state.key, 4)
        moved = X - dt * g.astype(X.dtype)
        event = jax.random.uniform(k_event, (n,), X.dtype) < -jnp.expm1(-jnp.abs(beta) * dt)
        src = jax.random.randint(k_src, (n,), 0, n)
        dst = jax.random.randint(k_dst, (n,), 0, n)
        # clones (β < 0) overwrite a uniformly chosen particle; deaths (β > 0) take a copy
        clone = event & (beta < 0)
        target = jnp.where(clone, dst, n)  # index n: dropped
        new = moved.at[target].set(moved, mode="drop")
        death = event & (beta > 0)
        new = jnp.where(death[:, None], moved[src], new)
        return ParticleState(new, key, state.t + dt, state.step + 1)

    def observe_fn(state: ParticleState):
        X = state.particles
        w, v, g, beta = _fields(X)
        return {
            "energy": energy_fn(X, w, *data_args),
            "dissipation": jnp.mean(jnp.sum(g * g, -1) + alpha * (v - jnp.mean(v)) ** 2),
            "birth_death_rate": jnp.mean(jnp.abs(beta)),
            **({"particles": X} if snapshots else {}),
        }

    return init_fn, step_fn, observe_fn
