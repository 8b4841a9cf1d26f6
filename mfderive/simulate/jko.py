r"""Entropic JKO steps on a grid (Jordan, Kinderlehrer & Otto 1998; Peyré 2015).

One minimising-movement step of a Wasserstein gradient flow, with the transport cost
relaxed by entropy:

.. math::
    p_{k+1} = \arg\min_p\ \min_{\pi\in\Pi(p_k, p)} \langle C,\pi\rangle + \varepsilon\,\mathrm{KL}(\pi)
              + 2\tau\,E_h(p),\qquad C_{ij} = |x_i - x_j|^2,

so that for :math:`\varepsilon\to0` it is :math:`\arg\min_p E(p) + W_2^2(p,p_k)/2\tau`
(implicit Euler in :math:`W_2`).  With :math:`\pi = \operatorname{diag}(a)K\operatorname{diag}(b)`,
:math:`K = e^{-C/\varepsilon}`, the optimality conditions are the Sinkhorn-like updates

.. math::
    a = p_k / Kb,\qquad b = \operatorname{prox}^{\mathrm{KL}}_{2\tau E/\varepsilon}(K^\top a)/K^\top a ,

and the prox of :math:`E = \kappa\int m\log m + R` is explicit in :math:`\log p` once
:math:`\xi_R = \delta R/\delta m` is frozen at the current iterate:
:math:`\log p_j = \big(\log z_j + \lambda\kappa(\log|C| - 1) - \lambda\,\xi_{R,j}\big)/(1+\lambda\kappa)`,
:math:`\lambda = 2\tau/\varepsilon`.  Everything runs on the potentials
:math:`f = \varepsilon\log a`, :math:`g = \varepsilon\log b` with log-sum-exp, so that
:math:`\varepsilon` far below the cost scale (where :math:`K` underflows to 0) is stable.
:math:`\xi` is the engine's first variation compiled on the grid
(:func:`.lower.entropic_potential`); :func:`jko_steps` is the scheme for any
:math:`\kappa` and ``rest(m)``.  Implicit Euler: first order in :math:`\tau` (:data:`ORDER`).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
from jax.scipy.special import logsumexp

from ..errors import GridError, NotAFlowError, SimulationInputError
from ..flows.wasserstein import WassersteinFlow
from ..grids import Grid
from .inputs import count, float_array, real_number, time_step
from .lower import entropic_potential

__all__ = ["ORDER", "JKOState", "entropic_jko", "jko_steps"]

#: order of the (implicit Euler) JKO step in ``tau``
ORDER = 1


@jax.tree_util.register_dataclass
@dataclass
class JKOState:
    """Cell averages, the dual potential ``g`` (warm start), the last marginal error
    :math:`\\|\\pi 1 - p_k\\|_1`, the time, the step count, and ``converged``: False from
    the first step whose marginal error exceeded the tolerance (sticky), which
    :func:`mfderive.run` turns into a :class:`~mfderive.SimulationError`."""

    density: jax.Array
    g: jax.Array
    marginal_error: jax.Array
    t: jax.Array
    step: jax.Array
    converged: jax.Array

    def admissible(self):
        return self.converged


def _settings(tau, epsilon, iterations, tol):
    """``(tau, epsilon, iterations, tol)`` checked: positive numbers, an integer ≥ 1, and a
    positive number or None."""
    tau, eps = time_step(tau, "tau"), real_number(epsilon, "epsilon")
    if not eps > 0:
        raise SimulationInputError(f"epsilon (the entropic regularisation) must be positive, got {eps:g}")
    iterations = count(iterations, "iterations", 1)
    if tol is not None:
        tol = real_number(tol, "tol")
        if not tol > 0:
            raise SimulationInputError(f"tol must be a positive number (or None), got {tol:g}")
    return tau, eps, iterations, tol


def entropic_jko(flow: WassersteinFlow, grid: Grid, tau, epsilon, iterations=200,
                 data=None, values=None, tol=1e-3):
    r"""``(init_fn, step_fn, observe_fn)`` for entropic JKO steps of ``flow`` on ``grid``.

    Parameters
    ----------
    tau : the JKO step (time per step), a finite positive number
    epsilon : the entropic regularisation of the transport (log domain: any finite ε > 0
        is stable, but the iterations converge slowly for ε far below :math:`h^2`)
    iterations : Sinkhorn-like iterations per step, an integer ≥ 1 (warm-started from the
        previous step)
    tol : the largest marginal error :math:`\|\pi1 - p_k\|_1` (mass 1 in all) accepted at the
        end of a step; above it the step did not solve its problem and :func:`mfderive.run`
        stops with a :class:`~mfderive.SimulationError` naming ε.  ``None`` turns the check
        off (to study an unconverged iteration).

    ``init_fn(density)`` → :class:`JKOState`: finite, non-negative cell averages of mass 1
    (each step returns a density of mass 1, so another mass would silently be rescaled:
    it raises instead); integers are cast to floats.
    ``observe_fn(state)`` → dict with ``energy`` :math:`E_h`, ``mass`` and the step's
    ``marginal_error`` (how far the last iterate is from the constraint :math:`\pi1 = p_k`).
    """
    if not isinstance(flow, WassersteinFlow):
        raise NotAFlowError(f"entropic_jko needs a WassersteinFlow, got {type(flow).__name__}")
    if not isinstance(grid, Grid):
        raise GridError(f"grid must be a mfderive Grid, got {type(grid).__name__}")
    if grid.dim != flow.mu.dim:
        raise GridError(f"the grid has {grid.dim} axes; {flow.mu.name!r} has {flow.mu.dim} variables")
    tau, eps, iterations, tol = _settings(tau, epsilon, iterations, tol)
    lowered = entropic_potential(flow, grid, data, values)
    return jko_steps(lowered.kappa, lowered.rest, lowered.energy, grid, tau, eps, iterations, tol)


def jko_steps(kappa, rest_fn, energy_fn, grid: Grid, tau, epsilon, iterations=200, tol=1e-3):
    r"""``(init_fn, step_fn, observe_fn)`` of entropic JKO steps on ``grid`` for the first
    variation :math:`\xi = \kappa\log m + \xi_R`: the number ``kappa`` and ``rest_fn(m)``
    (:math:`\xi_R` at the cell averages ``m``); ``energy_fn(m)`` is recorded.  ``tau``,
    ``epsilon``, ``iterations``, ``tol`` as in :func:`entropic_jko`.

    >>> from mfderive.grids import Grid
    >>> g = Grid(-3, 3, 24)
    >>> X2 = g.centres[:, 0].reshape(g.shape) ** 2 / 2
    >>> init, step, obs = jko_steps(0.5, lambda m: X2, lambda m: 0.0, g, tau=0.1, epsilon=0.05)
    >>> m = g.gaussian([1.0], [0.25]); s = step(init(m / g.integrate(m)))
    >>> bool(abs(float(obs(s)["mass"]) - 1) < 1e-6 and s.converged)
    True
    """
    tau, eps, iterations, tol = _settings(tau, epsilon, iterations, tol)
    kappa = real_number(kappa, "kappa")
    X = jnp.asarray(grid.centres)
    C = jnp.sum((X[:, None, :] - X[None, :, :]) ** 2, -1)
    lam = 2 * tau / eps
    log_vol = jnp.log(grid.vol)

    def init_fn(density):
        m = float_array(grid.check(density), "the initial density")
        if m.shape != grid.shape:
            raise GridError(f"the initial density has shape {m.shape}; the grid has shape {grid.shape}")
        if float(jnp.min(m)) < 0:
            raise GridError(f"the initial density must be non-negative; its minimum is {float(jnp.min(m)):g}")
        mass = float(grid.integrate(m))
        if abs(mass - 1) > 1e-9:
            raise GridError(
                f"the initial density has mass {mass:.12g}; entropic JKO steps move probability "
                f"densities (each step returns mass 1): divide it by its mass"
            )
        z = jnp.zeros((grid.size,), m.dtype)
        return JKOState(m, z, jnp.zeros((), m.dtype), jnp.zeros((), m.dtype), jnp.zeros((), jnp.int32),
                        jnp.array(True))

    def step_fn(s: JKOState) -> JKOState:
        log_q = jnp.log(jnp.reshape(s.density, (-1,)) * grid.vol)  # -inf where empty: fine

        def body(_, carry):
            g, log_p, _f = carry
            f = eps * (log_q - logsumexp((g[None, :] - C) / eps, axis=1))
            log_z = logsumexp((f[:, None] - C) / eps, axis=0)
            # xi_R at the iterate normalised to mass 1: the inner iterate's mass drifts until
            # the marginals are met, and a nonlinear xi_R (a network risk) taken at the
            # unnormalised density overflows; at convergence the mass is 1 and nothing changes
            p_in = jnp.exp(log_p - logsumexp(log_p))
            r = jnp.reshape(rest_fn(jnp.reshape(p_in / grid.vol, grid.shape)), (-1,))
            log_p = (log_z + lam * kappa * (log_vol - 1) - lam * r) / (1 + lam * kappa)
            return eps * (log_p - log_z), log_p, f

        g, log_p, f = jax.lax.fori_loop(0, iterations, body, (s.g, log_q, jnp.zeros_like(log_q)))
        # the first marginal of the last plan (f of the last sweep, g after it): zero at convergence
        row = jnp.exp(f / eps + logsumexp((g[None, :] - C) / eps, axis=1))
        err = jnp.sum(jnp.abs(row - jnp.exp(log_q)))
        p = jnp.exp(log_p)
        m = jnp.reshape(p / jnp.sum(p) / grid.vol, grid.shape)  # mass 1 (drift of order err)
        converged = s.converged & (err <= tol) if tol is not None else s.converged
        return JKOState(m, g, err, s.t + tau, s.step + 1, converged)

    if tol is not None:
        step_fn.failure = (
            f"the entropic JKO step did not converge: its marginal error |pi 1 - p_k|_1 exceeded "
            f"tol = {tol:g} after {iterations} iterations with epsilon = {eps:g} (h^2 = "
            f"{min(grid.h) ** 2:.3g}); raise iterations, or raise epsilon toward h^2 (the "
            f"iterations converge slowly for epsilon far below the cell scale)"
        )

    def observe_fn(s: JKOState):
        return {
            "energy": jnp.asarray(energy_fn(s.density)),
            "mass": grid.integrate(s.density),
            "marginal_error": s.marginal_error,
        }

    return init_fn, step_fn, jax.jit(observe_fn)  # jitted: a call outside run is one dispatch
