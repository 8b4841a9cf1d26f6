r"""The Nikaido–Isoda (Nash) gap of a zero-sum game of measures, by inner best responses.

For a loss :math:`\mathcal L[\mu_x,\mu_y]` (player :math:`x` minimises, :math:`y` maximises)
the Nikaido–Isoda gap (Nikaido & Isoda 1955) is

.. math::
    \mathrm{NI}(\mu_x,\mu_y) = \sup_{\nu}\mathcal L[\mu_x,\nu] - \inf_{\nu}\mathcal L[\nu,\mu_y]
    \;\ge 0,

zero exactly at a mixed Nash equilibrium.  When :math:`\mathcal L` is linear in each
player's own measure (bilinear), the sup and inf are attained at Dirac masses and equal the
extreme values of the first variations over pure strategies (what
:func:`~mfderive.simulate.ascent_descent.ascent_descent` computes on probes).  In general
they are optimisation problems over measures.  :func:`nash_gap` solves each one over the
measures :math:`\nu = \sum_k w_k\delta_{p_k}` carried by a probe grid :math:`(p_k)` by
away-step Frank–Wolfe on the simplex (Frank & Wolfe 1956; Lacoste-Julien & Jaggi 2015,
linearly convergent for strongly concave objectives): the linear sub-problem is the
pure-strategy best response :math:`e_j` against the current first variation
:math:`g_k = \frac{\delta\mathcal L}{\delta\nu}(p_k)` (derived by the engine), the away
direction drops mass from the worst strategy in the support (the step that gains more of the
two is taken), and the step length comes from a quadratic fit of
:math:`\gamma\mapsto\mathcal L[w+\gamma d]` (the exact line search when :math:`\mathcal L`
is quadratic in :math:`\nu`, the full step when linear).

**Which side of the error.**  Every iterate :math:`w` is a probability measure, so
:math:`\mathcal L[\mu_x,w] \le \sup_\nu\mathcal L[\mu_x,\nu]` and
:math:`\mathcal L[w,\mu_y] \ge \inf_\nu\mathcal L[\nu,\mu_y]`: the returned ``lower`` is a
**lower bound** of NI, without any assumption on :math:`\mathcal L` (up to floating-point
rounding of the loss, ~1e-15 relative in float64).  If moreover :math:`\mathcal L` is
concave in :math:`\mu_y` and convex in :math:`\mu_x` (a convex–concave game), the
linearisation at any iterate bounds the optimum from the other side,
:math:`\sup_{\nu}\mathcal L[\mu_x,\nu] \le \mathcal L[\mu_x,w] + \max_k g_k - \sum_k w_k g_k`
(the Frank–Wolfe duality gap), for all :math:`\nu` carried by the probes; this gives
``upper``.  ``upper − lower`` is then the stated accuracy of the inner optimisation.  What
neither bound controls is the restriction to the probes: over measures on the whole strategy
space ``lower`` stays a lower bound, and by the same linearisation (with :math:`\sup g` over
the space) the true gap exceeds ``upper`` by at most
:math:`\operatorname{Lip}(g)\times` the probes' covering radius per player (half the
spacing of a 1-D grid).  For a
bilinear game one step reaches a vertex and ``lower = upper`` = the pure-strategy gap.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from ..errors import SimulationInputError
from .inputs import count, particle_weights, points_array

__all__ = ["BEST_RESPONSE_ITERS", "NashGap", "best_response", "nash_gap", "nash_gap_of_fields"]

BEST_RESPONSE_ITERS = 200
"""Default number of Frank–Wolfe iterations of each inner best response."""


class NashGap(NamedTuple):
    r"""``lower`` ≤ NI (always) and ``upper`` ≥ NI over probe-supported measures (for
    convex–concave losses); ``sup_y`` and ``inf_x`` are the pairs (feasible value,
    certificate) of :math:`\sup_\nu\mathcal L[\mu_x,\nu]` and :math:`\inf_\nu\mathcal
    L[\nu,\mu_y]`; ``wy``, ``wx`` the best responses found (weights on the probes)."""

    lower: jax.Array
    upper: jax.Array
    sup_y: tuple
    inf_x: tuple
    wy: jax.Array
    wx: jax.Array


def best_response(value, grad, n: int, iters: int = BEST_RESPONSE_ITERS, maximise: bool = True):
    r"""Away-step Frank–Wolfe over the simplex of :math:`n` probe weights for
    :math:`\max_w` (or :math:`\min_w`) of ``value(w)``, with ``grad(w)`` the first variation
    at the probes ``(n,)``.  Returns ``(feasible, certificate, w)``: the best value reached by
    an iterate (a lower bound of the max, an upper bound of the min, for any ``value``) and
    the best Frank–Wolfe bound :math:`\text{value}(w) \pm \max_k |g_k - \langle w,g\rangle|`
    over the iterates (the other side, valid when ``value`` is concave for a max, convex for
    a min).  Jittable (``lax.fori_loop``).

    >>> import jax.numpy as jnp
    >>> c = jnp.array([0.0, 1.0, 3.0])      # max of m − m²/4, m = <w, c> ∈ [0, 3]: 1 at m = 2
    >>> lo, hi, w = best_response(lambda w: w @ c - (w @ c) ** 2 / 4, lambda w: c - (w @ c) * c / 2, 3, iters=20)
    >>> round(float(lo), 12), round(float(hi), 12)
    (1.0, 1.0)
    """
    s = 1.0 if maximise else -1.0
    h = lambda w: s * value(w)            # maximise h
    dh = lambda w: s * grad(w)
    e = lambda i, w: jax.nn.one_hot(i, n, dtype=w.dtype)
    uniform = jnp.full((n,), 1.0 / n)
    w0 = e(jnp.argmax(dh(uniform)), uniform)   # start at the pure best response to the uniform

    def keep(best, wbest, hv, wv):
        better = hv > best
        return jnp.where(better, hv, best), jnp.where(better, wv, wbest)

    def body(_, carry):
        w, best, cert, wbest = carry
        hw, g = h(w), dh(w)
        best, wbest = keep(best, wbest, hw, w)
        j = jnp.argmax(g)
        fw_gap = g[j] - jnp.dot(w, g)        # ≥ 0: the slope towards the best pure strategy e_j
        cert = jnp.minimum(cert, hw + fw_gap)
        hj = h(e(j, w))                      # the pure best response is feasible too
        best, wbest = keep(best, wbest, hj, e(j, w))
        k = jnp.argmin(jnp.where(w > 1e-14, g, jnp.inf))    # the worst strategy in the support
        away_gap = jnp.dot(w, g) - g[k]
        wk = jnp.minimum(w[k], 1 - 1e-12)

        def fitted(d, gmax, slope, hend, drop=None):   # φ(γ) ≈ hw + slope γ + curv γ², 0 ≤ γ ≤ gmax
            curv = (hend - hw - slope * gmax) / gmax**2
            safe = jnp.where(curv < 0, curv, -1.0)
            gamma = jnp.where(curv < 0, jnp.clip(-slope / (2 * safe), 0.0, gmax), gmax)
            wn = jnp.clip(w + gamma * d, 0.0, None)
            if drop is not None:               # a full away step removes the strategy exactly
                wn = wn.at[drop].set(jnp.where(gamma >= gmax, 0.0, wn[drop]))
            wn = wn / jnp.sum(wn)
            return wn, h(wn)

        w_fw, h_fw = fitted(e(j, w) - w, 1.0, fw_gap, hj)
        d_aw, gmax_aw = w - e(k, w), wk / (1 - wk)
        w_aw, h_aw = fitted(d_aw, gmax_aw, away_gap, h(w + gmax_aw * d_aw), drop=k)
        # both steps are feasible: take the one that gains more (at least the progress of the
        # away-step rule of Lacoste-Julien & Jaggi 2015)
        wn = jnp.where(h_aw > h_fw, w_aw, w_fw)
        return wn, best, cert, wbest

    init = (w0, -jnp.inf, jnp.inf, w0)
    w, best, cert, wbest = jax.lax.fori_loop(0, iters, body, init)
    best, wbest = keep(best, wbest, h(w), w)      # the last iterate is feasible too
    return s * best, s * cert, wbest


@functools.partial(jax.jit, static_argnames=("fields", "iters"))
def nash_gap_of_fields(fields, x, wx, y, wy, probes, iters: int = BEST_RESPONSE_ITERS) -> NashGap:
    r"""The Nikaido–Isoda gap of the weighted particle measures
    :math:`\mu_x = \sum_i w^x_i\delta_{x_i}`, :math:`\mu_y = \sum_j w^y_j\delta_{y_j}` for any
    loss, by a Frank–Wolfe best response of each player on its probes (see the module
    docstring for the accuracy: ``lower`` is always a lower bound; ``upper`` bounds it from
    above over probe-supported measures when the game is convex–concave).  Unchecked and
    jitted, with ``fields`` and ``iters`` static (the same ``fields`` object compiles once);
    :func:`nash_gap` is the checked entry.

    ``fields`` is a :class:`~mfderive.simulate.lower.GamePotentials` (``value``, ``vx_at``,
    ``vy_at``); ``probes = (px, py)``; ``iters`` Frank–Wolfe steps per player.

    >>> import jax.numpy as jnp
    >>> from mfderive.simulate.lower import GamePotentials
    >>> L = lambda x, a, y, b: (a @ x[:, 0]) * (b @ y[:, 0])          # L = m_x m_y
    >>> vx = lambda x, a, y, b, P: P[:, 0] * (b @ y[:, 0])
    >>> vy = lambda x, a, y, b, P: P[:, 0] * (a @ x[:, 0])
    >>> f = GamePotentials(None, None, L, vx, vy, alpha=0.0)
    >>> P = jnp.linspace(-1.0, 1.0, 5)[:, None]
    >>> r = nash_gap_of_fields(f, jnp.array([[0.5]]), jnp.ones(1), jnp.array([[0.5]]), jnp.ones(1), (P, P))
    >>> float(r.lower), float(r.upper)        # max_y' 0.5 y' − min_x' 0.5 x' = 1
    (1.0, 1.0)
    """
    px, py = probes
    kx, ky = px.shape[0], py.shape[0]
    sup_lo, sup_hi, wyb = best_response(
        lambda w: fields.value(x, wx, py, w), lambda w: fields.vy_at(x, wx, py, w, py).reshape(-1),
        ky, iters, maximise=True)
    inf_hi, inf_lo, wxb = best_response(
        lambda w: fields.value(px, w, y, wy), lambda w: fields.vx_at(px, w, y, wy, px).reshape(-1),
        kx, iters, maximise=False)
    return NashGap(sup_lo - inf_hi, sup_hi - inf_lo, (sup_lo, sup_hi), (inf_hi, inf_lo), wyb, wxb)


def check_probes(probes, dims):
    """``probes`` as a pair of float arrays ``(Kx, dx)``, ``(Ky, dy)`` (raises
    :class:`~mfderive.errors.SimulationInputError`)."""
    if not (isinstance(probes, (tuple, list)) and len(probes) == 2):
        raise SimulationInputError("probes must be a pair (px, py) of candidate pure strategies")
    return (points_array(probes[0], dims[0], "the probes of mu_x"),
            points_array(probes[1], dims[1], "the probes of mu_y"))


def check_iters(iters) -> int:
    """A number of best-response iterations (an integer ≥ 1)."""
    return count(iters, "the number of best-response iterations", 1)



def nash_gap(game, x, y, probes, values=None, wx=None, wy=None, iters: int = BEST_RESPONSE_ITERS) -> NashGap:
    r"""The Nikaido–Isoda gap
    :math:`\sup_\nu\mathcal L[\mu_x,\nu] - \inf_\nu\mathcal L[\nu,\mu_y]` of a
    :class:`~mfderive.ZeroSumGame` at the particle measures ``(x, wx)``, ``(y, wy)``
    (uniform weights when omitted), for any loss (bilinear or not), by inner Frank–Wolfe best
    responses over the measures carried by ``probes = (px, py)`` (Nikaido & Isoda 1955;
    Jaggi 2013).  Returns a :class:`NashGap`: ``lower`` ≤ NI always (every best response
    found is a feasible measure); ``upper`` ≥ NI over probe-supported measures when the loss
    is convex in :math:`\mu_x` and concave in :math:`\mu_y`; for a bilinear loss both equal
    the pure-strategy gap.  ``values`` gives the loss's parameters (as for
    :func:`~mfderive.simulate.ascent_descent.ascent_descent`).

    >>> import sympy as sp, mfderive as mf, numpy as np
    >>> u, v = sp.symbols("u_ngdoc v_ngdoc", real=True)
    >>> mx, my = mf.Measure("mx_ngdoc", (u,)), mf.Measure("my_ngdoc", (v,))
    >>> mean_x, mean_y = mf.integral(u, mx), mf.integral(v, my)
    >>> game = mf.ZeroSumGame(mean_x * mean_y + mean_x**2 / 2 - mean_y**2 / 2, mx, my)
    >>> P = np.linspace(-2, 2, 41)
    >>> r = nash_gap(game, [1.0], [0.0], (P, P))     # closed form: m_x² = 1
    >>> round(float(r.lower), 10), round(float(r.upper), 10)
    (1.0, 1.0)
    """
    from ..flows.games import ZeroSumGame
    from .lower import game_potentials

    if not isinstance(game, ZeroSumGame):
        raise SimulationInputError(f"nash_gap needs a ZeroSumGame, got {type(game).__name__}")
    iters = check_iters(iters)
    vals = dict(values or {})
    given = {getattr(k, "name", k) for k in vals}
    for a in game.alpha.free_symbols - game.loss.free_symbols:
        if a.name not in given:
            vals[a] = 0                                      # the WFR rate plays no part in the gap
    fields = game_potentials(game, vals)
    px, py = check_probes(probes, (game.mu_x.dim, game.mu_y.dim))
    x = points_array(x, game.mu_x.dim, f"the particles of {game.mu_x.name!r}")
    y = points_array(y, game.mu_y.dim, f"the particles of {game.mu_y.name!r}")
    wx = _weights(wx, x, game.mu_x.name)
    wy = _weights(wy, y, game.mu_y.name)
    return nash_gap_of_fields(fields, x, wx, y, wy, (px, py), iters)


def _weights(w, pts, name):
    return particle_weights(w, pts.shape[0], name, dtype=pts.dtype)
