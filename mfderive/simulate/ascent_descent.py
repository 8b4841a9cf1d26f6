r"""Weighted particles for mean-field ascent–descent in zero-sum games (Domingo-Enrich et al. 2020).

Each player is a weighted empirical measure :math:`\mu_x = \sum_i a_i\delta_{X_i}`,
:math:`\mu_y = \sum_j b_j\delta_{Y_j}`.  One step of the
:class:`~mfderive.flows.games.ZeroSumGame` dynamics (Domingo-Enrich, Jelassi, Mensch, Rotskoff &
Bruna 2020):

* transport: :math:`X_i \leftarrow X_i - \Delta t\,\nabla V_x(X_i)`,
  :math:`Y_j \leftarrow Y_j + \Delta t\,\nabla V_y(Y_j)` (simultaneous);
* Fisher–Rao: :math:`a_i \leftarrow a_i e^{-\alpha\Delta t (V_x(X_i) - \bar V_x)}`,
  :math:`b_j \leftarrow b_j e^{+\alpha\Delta t (V_y(Y_j) - \bar V_y)}`, renormalised (the
  exponential keeps weights positive; the particle counts never change).

:math:`V_x, V_y` are the engine's first variations, compiled once for both measures
(:func:`.lower.game_potentials`); :func:`ascent_descent_steps` is the scheme for any pair of
fields.  The Nash gap it observes is exact over pure strategies for bilinear games and, for
any other loss, the Frank–Wolfe best-response bounds of :mod:`.nash`.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import NotAFlowError, SimulationInputError
from ..flows.games import ZeroSumGame
from .inputs import points_array, real_number, time_step
from .lower import GamePotentials, game_potentials
from .nash import BEST_RESPONSE_ITERS, check_iters, check_probes, nash_gap_of_fields
from .sharding import constrain_rows, particle_sharding, place_state

__all__ = ["GameState", "ascent_descent", "ascent_descent_steps", "averaged_nash_gap"]


@jax.tree_util.register_dataclass
@dataclass
class GameState:
    """Positions and weights of both players, the time and the step count."""

    x: jax.Array
    wx: jax.Array
    y: jax.Array
    wy: jax.Array
    t: jax.Array
    step: jax.Array


def ascent_descent(game: ZeroSumGame, values=None, dt=1e-2, probes=None, best_response_iters=BEST_RESPONSE_ITERS,
                   sharding=None):
    r"""``(init_fn, step_fn, observe_fn)`` for the weighted particles of ``game``.

    ``values`` (by Symbol or name) must give every parameter of the loss, and α (≥ 0);
    ``dt`` is a finite positive number.
    ``init_fn(x, y)`` (finite arrays ``(N, dx)``, ``(M, dy)``, N, M ≥ 1, integers cast to
    floats; uniform weights) → :class:`GameState`.
    ``observe_fn(state)`` → dict with ``value`` :math:`\mathcal L[\mu_x,\mu_y]` and, when
    ``probes = (px, py)`` (candidate pure strategies, e.g. grids of the two strategy
    spaces) are given, for a bilinear game ``nash_gap``
    :math:`\max_{y'} V_y(y') - \min_{x'} V_x(x')` over the probes, and the values
    ``vx_probes``, ``vy_probes`` there (for :func:`averaged_nash_gap`).  For a game that is
    not bilinear, ``nash_gap`` is the Nikaido–Isoda gap
    :math:`\sup_\nu\mathcal L[\mu_x,\nu] - \inf_\nu\mathcal L[\nu,\mu_y]` over measures
    carried by the probes, computed by ``best_response_iters`` Frank–Wolfe steps per player
    (:func:`~mfderive.simulate.nash.nash_gap`): a lower bound of the gap always, with
    ``nash_gap_upper`` an upper bound when the loss is convex–concave.

    ``sharding=`` (``True``, a :class:`jax.sharding.Mesh` or a
    :class:`jax.sharding.NamedSharding` of the particle axis) splits the particles and
    weights of *both* players over the devices (:mod:`.sharding`; N and M must be
    multiples of the number of devices); the probes stay replicated.
    """
    if not isinstance(game, ZeroSumGame):
        raise NotAFlowError(f"ascent_descent needs a ZeroSumGame, got {type(game).__name__}")
    dt = time_step(dt)
    layout = particle_sharding(sharding)
    fields = game_potentials(game, values)
    return ascent_descent_steps(fields, (game.mu_x, game.mu_y), dt, probes,
                                bilinear=game.bilinear, best_response_iters=best_response_iters,
                                sharding=layout)


def ascent_descent_steps(fields: GamePotentials, players, dt=1e-2, probes=None, bilinear=True,
                         best_response_iters=BEST_RESPONSE_ITERS, sharding=None):
    r"""``(init_fn, step_fn, observe_fn)`` of weighted ascent–descent for the callables of a
    :class:`~mfderive.simulate.lower.GamePotentials` (``fx``, ``fy`` with the columns
    :math:`V, \nabla V` at each player's particles, ``value``, ``vx_at``, ``vy_at``,
    ``alpha``); ``players`` are the two measures (their ``dim`` and ``name``), ``probes``
    as in :func:`ascent_descent`; ``bilinear=False`` observes the best-response gap of
    :mod:`.nash` instead of the pure-strategy one; ``sharding`` as in :func:`ascent_descent`.

    >>> import jax.numpy as jnp
    >>> from types import SimpleNamespace as P
    >>> from mfderive.simulate.lower import GamePotentials
    >>> grad = lambda z: jnp.concatenate([z**2 / 2, z], axis=1)   # V = z²/2 for both
    >>> f = GamePotentials(lambda x, a, y, b: grad(x), lambda x, a, y, b: grad(y),
    ...                    lambda x, a, y, b: 0.0, None, None, alpha=0.0)
    >>> init, step, _ = ascent_descent_steps(f, (P(dim=1, name="x"), P(dim=1, name="y")), dt=0.5)
    >>> s = step(init(jnp.ones(2), jnp.ones(2)))
    >>> s.x.ravel().tolist(), s.y.ravel().tolist()
    ([0.5, 0.5], [1.5, 1.5])
    """
    dt, alpha = time_step(dt), real_number(fields.alpha, "alpha")
    fx, fy, value_fn, vx_at, vy_at = fields.fx, fields.fy, fields.value, fields.vx_at, fields.vy_at
    mu_x, mu_y = players
    iters = check_iters(best_response_iters)
    if probes is not None:
        probes = check_probes(probes, (mu_x.dim, mu_y.dim))
    layout = particle_sharding(sharding)
    rows = {"x": f"particles of {mu_x.name!r}", "wx": f"weights of {mu_x.name!r}",
            "y": f"particles of {mu_y.name!r}", "wy": f"weights of {mu_y.name!r}"}

    def init_fn(x, y):
        x = points_array(x, mu_x.dim, f"the particles of {mu_x.name!r}")
        y = points_array(y, mu_y.dim, f"the particles of {mu_y.name!r}")
        wx = jnp.full((x.shape[0],), 1.0 / x.shape[0], x.dtype)
        wy = jnp.full((y.shape[0],), 1.0 / y.shape[0], y.dtype)
        return place_state(layout, GameState(x, wx, y, wy, jnp.zeros((), x.dtype), jnp.zeros((), jnp.int32)), rows)

    def _reweight(w, v, sign):
        logw = jnp.log(w) + sign * alpha * dt * (v - jnp.sum(w * v))
        return jax.nn.softmax(logw)

    def step_fn(s: GameState) -> GameState:
        sx, swx, sy, swy = constrain_rows(layout, s.x, s.wx, s.y, s.wy)
        ox = fx(sx, swx, sy, swy)
        oy = fy(sx, swx, sy, swy)
        x = sx - dt * ox[:, 1:]
        y = sy + dt * oy[:, 1:]
        wx = _reweight(swx, ox[:, 0], -1.0) if alpha else swx
        wy = _reweight(swy, oy[:, 0], 1.0) if alpha else swy
        x, wx, y, wy = constrain_rows(layout, x, wx, y, wy)
        return GameState(x, wx, y, wy, s.t + dt, s.step + 1)

    def observe_fn(s: GameState):
        out = {"value": jnp.asarray(value_fn(s.x, s.wx, s.y, s.wy))}
        if probes is not None and not bilinear:
            r = nash_gap_of_fields(fields, s.x, s.wx, s.y, s.wy, probes, iters)
            out["nash_gap"], out["nash_gap_upper"] = r.lower, r.upper
        elif probes is not None:
            gx = vx_at(s.x, s.wx, s.y, s.wy, probes[0])
            gy = vy_at(s.x, s.wx, s.y, s.wy, probes[1])
            out["nash_gap"] = jnp.max(gy) - jnp.min(gx)
            out["vx_probes"], out["vy_probes"] = gx, gy
        return out

    return init_fn, step_fn, jax.jit(observe_fn)  # jitted: a call outside run is one dispatch


def averaged_nash_gap(trace):
    r"""The Nash gap of the time-averaged strategies :math:`\frac1k\sum_{s\le k}\mu_s` at each
    record ``k`` of a :func:`mfderive.run` trace: for a bilinear game :math:`V_x, V_y` are
    linear in the measures, so the averages' potentials are the running means of the
    recorded probe values (a trace of a game that is not bilinear has none: refused)."""
    if "vx_probes" not in trace:
        raise SimulationInputError(
            "averaged_nash_gap needs the probe values vx_probes, vy_probes that a bilinear game's "
            "trace records; for another loss the averaged strategies' gap is not a running mean")
    k = np.arange(1, len(trace["step"]) + 1)[:, None]
    gx = np.cumsum(trace["vx_probes"], axis=0) / k
    gy = np.cumsum(trace["vy_probes"], axis=0) / k
    return gy.max(axis=1) - gx.min(axis=1)
