r"""Wasserstein-2 distances for the checks: particles, grid densities, Gaussians.

The quadratic Wasserstein distance between probability measures on :math:`\mathbb R^d`,

.. math::
    W_2(\mu,\nu)^2 = \min_{\pi\in\Pi(\mu,\nu)} \int |x-y|^2\,\pi(dx,dy)
                   = \int_0^1 |F_\mu^{-1}(t) - F_\nu^{-1}(t)|^2\,dt \quad (d = 1),

(Villani 2003, Thm 2.18 for the 1-D formula; Peyré & Cuturi 2019, §2 and §4 for the
discrete problems), computed with the field's solvers — POT's network simplex
(``ot.emd2``) and its log-domain Sinkhorn (``ot.bregman.sinkhorn_log``), Flamary et
al. (2021) — or in closed form:

===========================  =============================================================
function                     what it computes
===========================  =============================================================
:func:`w2`                   between two particle measures :math:`\sum_i a_i\delta_{x_i}`,
                             :math:`\sum_j b_j\delta_{y_j}`: exact (POT ``emd2``), the 1-D
                             quantile formula, or the debiased Sinkhorn divergence
:func:`w2_1d`                the 1-D quantile formula, exact, :math:`O((N+M)\log(N+M))`
:func:`w2_gaussian`          the Bures–Wasserstein closed form between two Gaussians
:func:`w2_to_grid`           between particles and a density on an :class:`~mfderive.Grid`
                             (exact in 1-D; cells as atoms at their centres in d-D, error
                             at most :math:`(\sum_k h_k^2/12)^{1/2}`)
:func:`sinkhorn_divergence`  :math:`S_\varepsilon` itself (Feydy et al. 2019)
===========================  =============================================================

Every function returns :math:`W_2` (a distance) by default and :math:`W_2^2` with
``squared=True``.  Bad input — non-finite points, negative weights, weights that do not
sum to 1, shapes that do not match, an empty measure — raises
:class:`~mfderive.errors.SimulationInputError` (:class:`~mfderive.errors.GridError` for a
grid density); a solver that does not converge raises
:class:`~mfderive.errors.SimulationError`.  POT is imported inside the functions that
need it (``pip install pot``), so importing this module never requires it.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import GridError, MissingDependencyError, SimulationError, SimulationInputError
from ..grids import Grid
from .inputs import count, float_array, probability_weights, real_number

__all__ = [
    "EXACT_MAX_PAIRS",
    "GRID_ORDER",
    "sinkhorn_divergence",
    "w2",
    "w2_1d",
    "w2_gaussian",
    "w2_to_grid",
]

#: ``method="auto"`` solves the exact problem (network simplex) while ``N·M`` is at most
#: this (N = M = 3000): the dense cost matrix is then 72 MB in float64, and ``ot.emd2``
#: took 1.5 s at N = 1000 and 7.4 s at N = 3000 on 2 shared cores
#: (``benchmarks/bench_transport.py``, 2-D Gaussian clouds); its time grows faster than
#: :math:`N^2` and its memory like :math:`NM`, so above this the debiased Sinkhorn
#: divergence is used (also :math:`O(NM)` per iteration; on a CPU it is the slower of the
#: two at these sizes; ``backend="jax"`` on a GPU is the route for large N, not measured
#: here).  In 1-D ``auto`` always uses the exact quantile formula.
EXACT_MAX_PAIRS = 3000 * 3000

#: order in the cell width ``h`` of the error of :func:`w2_to_grid` in dimension ≥ 2
#: (cells as atoms at their centres: :math:`|W_2(\mu,\rho)-W_2(\mu,\rho_h)|\le(\sum_k h_k^2/12)^{1/2}`);
#: in 1-D the result is exact.
GRID_ORDER = 1

_METHODS = ("auto", "exact", "sinkhorn")
_BACKENDS = ("numpy", "jax")


def _pot():
    """The POT module, imported on first use."""
    try:
        import ot
    except ImportError:  # pragma: no cover - POT is installed in the test environment
        raise MissingDependencyError(
            "optimal transport needs POT (Python Optimal Transport): pip install pot"
        ) from None
    return ot


# ----------------------------------------------------------------------------- inputs


def _points(x, name: str) -> np.ndarray:
    """``x`` as a finite float64 ``(N, d)`` array (``(N,)`` is read as ``(N, 1)``), N ≥ 1."""
    X = np.asarray(float_array(x, f"the points of {name}"), dtype=np.float64)
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2:
        raise SimulationInputError(
            f"the points of {name} must have shape (N,) or (N, d), got {X.shape}"
        )
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise SimulationInputError(f"the points of {name} are empty (shape {X.shape}): a measure needs at least one atom")
    return X


def _weights(w, n: int, name: str) -> np.ndarray:
    """Probability weights, one per point (uniform ``1/n`` when ``w`` is None)."""
    if w is None:
        return np.full(n, 1.0 / n)
    p = probability_weights(w, name)
    if p.shape != (n,):
        raise SimulationInputError(
            f"the weights of {name} must have shape ({n},), one per point, got {p.shape}"
        )
    # within the tolerance of their input precision (float32: n·1.2e-7) of mass 1; make it
    # 1 in float64 so that both marginals of the transport problem carry the same mass
    return p / math.fsum(p)


def _measure(x, w, name: str):
    X = _points(x, name)
    return X, _weights(w, X.shape[0], name)


def _pair(x, y, a, b):
    X, p = _measure(x, a, "x")
    Y, q = _measure(y, b, "y")
    if X.shape[1] != Y.shape[1]:
        raise SimulationInputError(
            f"x and y live in different dimensions: x has {X.shape[1]} coordinate(s) per point, "
            f"y has {Y.shape[1]}"
        )
    return X, p, Y, q


def _result(w2sq: float, squared: bool) -> float:
    w2sq = max(float(w2sq), 0.0)
    return w2sq if squared else math.sqrt(w2sq)


# ----------------------------------------------------------------------------- 1-D


def _atom_quantile(X: np.ndarray, p: np.ndarray):
    """The quantile function of :math:`\\sum_i p_i\\delta_{x_i}` (1-D) as pieces: breakpoints
    ``T`` (0 = T_0 < … < T_K = 1) and, on each piece, values from ``L_k`` to ``R_k``
    (here ``L = R``: piecewise constant)."""
    keep = p > 0
    x, w = X[keep, 0], p[keep]
    order = np.argsort(x, kind="stable")
    x, w = x[order], w[order]
    return _pieces(w, x, x)


def _pieces(mass, left, right):
    T = np.concatenate([[0.0], np.cumsum(mass)])
    T /= T[-1]  # the total is 1 up to rounding (checked); make the last breakpoint exactly 1
    return T, left, right


def _quantile_distance_sq(P, Q) -> float:
    r""":math:`\int_0^1 |F^{-1}(t) - G^{-1}(t)|^2 dt` for two quantile functions each affine on
    the pieces of its breakpoints: on every piece of the merged breakpoints both are
    affine, and :math:`\int_{t_0}^{t_1} (d_0 + (d_1-d_0)s)^2 = \Delta t\,(d_0^2+d_0d_1+d_1^2)/3`
    (a sum of non-negative terms: no cancellation)."""
    t = np.union1d(P[0], Q[0])
    t0, t1 = t[:-1], t[1:]
    dt = t1 - t0
    keep = dt > 0
    t0, t1, dt = t0[keep], t1[keep], dt[keep]
    mid = 0.5 * (t0 + t1)

    def at(F, s0, s1):
        T, L, R = F
        k = np.clip(np.searchsorted(T, mid, side="right") - 1, 0, len(L) - 1)
        width = T[k + 1] - T[k]
        # the merged piece [s0, s1] lies inside the piece k, so the fractions are in [0, 1];
        # written as fractions (not slopes) a piece of tiny or zero width (a cell whose mass
        # is at or below the rounding of the cumulative sum, e.g. a far Gaussian tail) gives
        # no overflow and no 0/0
        safe = np.where(width > 0, width, 1.0)
        f0 = np.where(width > 0, np.clip((s0 - T[k]) / safe, 0.0, 1.0), 0.0)
        f1 = np.where(width > 0, np.clip((s1 - T[k]) / safe, 0.0, 1.0), 0.0)
        return L[k] + (R[k] - L[k]) * f0, L[k] + (R[k] - L[k]) * f1

    p0, p1 = at(P, t0, t1)
    q0, q1 = at(Q, t0, t1)
    d0, d1 = p0 - q0, p1 - q1
    return float(np.sum(dt * (d0 * d0 + d0 * d1 + d1 * d1)) / 3.0)


def w2_1d(x, y, a=None, b=None, *, squared: bool = False) -> float:
    r"""Exact :math:`W_2` between two particle measures on the line, by quantile functions.

    For :math:`\mu = \sum_i a_i\delta_{x_i}`, :math:`\nu = \sum_j b_j\delta_{y_j}` with
    cumulative distribution functions :math:`F_\mu, F_\nu`,

    .. math::
        W_2(\mu,\nu)^2 = \int_0^1 \big|F_\mu^{-1}(t) - F_\nu^{-1}(t)\big|^2\,dt

    (Villani 2003, Thm 2.18; Peyré & Cuturi 2019, Remark 2.30): the monotone rearrangement
    is optimal.  Both quantile functions are step functions, so the integral is a finite
    sum over the merged breakpoints of the two cumulative weights — a formula, exact up to
    rounding, in :math:`O((N+M)\log(N+M))`, with no solver.

    ``x``, ``y``: shapes ``(N,)``/``(N, 1)`` and ``(M,)``/``(M, 1)``; ``a``, ``b``:
    probability weights (uniform when omitted).  Returns :math:`W_2`, or :math:`W_2^2`
    with ``squared=True``.

    >>> round(w2_1d([0.0, 1.0], [2.0, 3.0]), 12)   # a translation by 2
    2.0
    >>> round(w2_1d([0.0], [0.0, 1.0], squared=True), 12)   # ∫_0^1 (F^{-1})² = 1/2·1
    0.5
    """
    X, p, Y, q = _pair(x, y, a, b)
    if X.shape[1] != 1:
        raise SimulationInputError(f"w2_1d is for measures on the line; the points have {X.shape[1]} coordinates")
    return _result(_quantile_distance_sq(_atom_quantile(X, p), _atom_quantile(Y, q)), squared)


# ----------------------------------------------------------------------------- discrete OT


def _exact_sq(X, p, Y, q, max_iter) -> tuple[float, dict]:
    ot = _pot()
    M = ot.dist(X, Y, metric="sqeuclidean")
    iters = max_iter if max_iter is not None else max(100_000, 50 * X.shape[0] * Y.shape[0])
    cost, log = ot.emd2(p, q, M, numItermax=iters, log=True)
    if log.get("warning") is not None:
        raise SimulationError(
            f"the exact transport solver (POT emd2, network simplex) did not finish: "
            f"{log['warning']} (pass max_iter= larger than {iters}, or method='sinkhorn')"
        )
    return float(cost), {"method": "exact", "eps": 0.0}


def _default_eps(X, Y) -> float:
    """:math:`(0.05\\,D)^2` with :math:`D` the diagonal of the box holding both clouds (the
    "blur" 0.05 of Feydy et al. 2019 on data scaled to the unit box); :math:`10^{-12}`
    when every point is the same."""
    Z = np.concatenate([X, Y])
    D = float(np.linalg.norm(Z.max(0) - Z.min(0)))
    return max((0.05 * D) ** 2, 1e-12)


#: ε-scaling (annealing) of the Sinkhorn problems: start at the largest cost, divide ε by
#: this factor each stage (warm-starting POT's solver from the previous potentials), and
#: run each intermediate stage for ``_STAGE_ITERATIONS`` iterations (Schmitzer 2019;
#: Feydy et al. 2019 §3.3); the last stage, at the requested ε, runs to ``tol``.
_EPS_FACTOR = 4.0
_STAGE_ITERATIONS = 20


def _anneal(ot, p, q, M, stages, logp, logq, max_iter, tol):
    """POT's log-domain Sinkhorn at each ε of ``stages`` in turn, warm-started (arrays of
    the backend of ``p``, ``q``, ``M``)."""
    warm, niter, e_prev = None, 0, None
    for e in stages:
        if warm is not None:
            r = e_prev / e  # the potentials f = ε(log u − log p) carry over
            warm = (r * (warm[0] - logp) + logp, r * (warm[1] - logq) + logq)
        last = e == stages[-1]
        _, log = ot.bregman.sinkhorn_log(
            p, q, M, e, numItermax=max_iter if last else _STAGE_ITERATIONS,
            stopThr=tol, log=True, warn=False, warmstart=warm,
        )
        warm, e_prev = (log["log_u"], log["log_v"]), e
        niter += int(log["niter"]) + 1
    err = float(log["err"][-1]) if log["err"] else math.inf
    return warm, niter, err


def _ot_eps(ot, X, p, Y, q, eps, max_iter, tol, backend="numpy"):
    r""":math:`\mathrm{OT}_\varepsilon(p,q) = \min_\pi \langle C,\pi\rangle + \varepsilon\,
    \mathrm{KL}(\pi\,|\,p\otimes q)` from POT's log-domain Sinkhorn, by its dual value
    :math:`\langle f,p\rangle + \langle g,q\rangle` with :math:`f = \varepsilon(\log u - \log p)`,
    :math:`g = \varepsilon(\log v - \log q)` (the last update makes :math:`\pi` have mass 1, so
    the dual objective is exactly this), after ε-scaling from the largest cost down to
    ``eps``.  Raises if the marginal error (POT's: the 2-norm of :math:`\pi^\top 1 - q`)
    stays above ``tol``.  ``backend="jax"`` hands POT JAX arrays (its JAX backend: on a GPU
    when JAX has one)."""
    if backend == "jax":
        import jax.numpy as jnp

        X, p, Y, q = (jnp.asarray(v) for v in (X, p, Y, q))
    nx = ot.backend.get_backend(X, p, Y, q)
    M = ot.dist(X, Y, metric="sqeuclidean")
    logp, logq = nx.log(p), nx.log(q)
    stages = []
    e = eps
    while e < float(nx.max(M)) and len(stages) < 60:
        stages.append(e)
        e *= _EPS_FACTOR
    stages = stages[::-1] or [eps]
    with np.errstate(over="ignore", invalid="ignore"):  # a diverging stage is caught below
        warm, niter, err = _anneal(ot, p, q, M, stages, logp, logq, max_iter, tol)
    if not err < tol:
        raise SimulationError(
            f"Sinkhorn (POT sinkhorn_log) at eps = {eps:.3g} did not converge in {max_iter} "
            f"iterations: marginal error {err:.3g} > tol = {tol:.3g}; raise max_iter=, or eps="
        )
    f = eps * (warm[0] - logp)
    g = eps * (warm[1] - logq)
    return float(nx.sum(p * f) + nx.sum(q * g)), niter, err


def _sinkhorn_sq(X, p, Y, q, eps, max_iter, tol, backend="numpy") -> tuple[float, dict]:
    ot = _pot()
    _check_backend(backend)
    eps = _default_eps(X, Y) if eps is None else real_number(eps, "eps")
    if not eps > 0:
        raise SimulationInputError(f"eps (the entropic regularisation) must be positive, got {eps:g}")
    max_iter = count(max_iter, "max_iter", 1)
    tol = real_number(tol, "tol")
    if not tol > 0:
        raise SimulationInputError(f"tol must be a positive number, got {tol:g}")
    X, p = X[p > 0], p[p > 0]  # atoms without mass change nothing; log 0 would
    Y, q = Y[q > 0], q[q > 0]
    ab, n_ab, e_ab = _ot_eps(ot, X, p, Y, q, eps, max_iter, tol, backend)
    aa, n_aa, e_aa = _ot_eps(ot, X, p, X, p, eps, max_iter, tol, backend)
    bb, n_bb, e_bb = _ot_eps(ot, Y, q, Y, q, eps, max_iter, tol, backend)
    s = ab - 0.5 * (aa + bb)
    # S_eps >= 0 (Feydy et al. 2019, Thm 1); a small negative value is rounding, in units
    # of the three values it is the difference of
    if s < -1e-9 * max(1.0, abs(ab), abs(aa), abs(bb)):
        raise SimulationError(f"the Sinkhorn divergence came out negative ({s:.3g}); lower tol=")
    return s, {
        "method": "sinkhorn", "eps": eps, "iterations": (n_ab, n_aa, n_bb),
        "marginal_error": max(e_ab, e_aa, e_bb),
    }


def _check_backend(backend):
    if not (isinstance(backend, str) and backend in _BACKENDS):
        raise SimulationInputError(f"backend must be one of {', '.join(map(repr, _BACKENDS))}, got {backend!r}")


def _sq(X, p, Y, q, method, eps, max_iter, tol, backend="numpy"):
    _check_backend(backend)
    if not isinstance(method, str) or method not in _METHODS:
        raise SimulationInputError(f"method must be one of {', '.join(map(repr, _METHODS))}, got {method!r}")
    if method == "auto":
        if X.shape[1] == 1:
            sq = _quantile_distance_sq(_atom_quantile(X, p), _atom_quantile(Y, q))
            return sq, {"method": "1d", "eps": 0.0}
        method = "exact" if X.shape[0] * Y.shape[0] <= EXACT_MAX_PAIRS else "sinkhorn"
    if method == "exact":
        return _exact_sq(X, p, Y, q, max_iter)
    return _sinkhorn_sq(X, p, Y, q, eps, 10_000 if max_iter is None else max_iter, tol, backend)


def w2(x, y, a=None, b=None, *, method: str = "auto", eps=None, squared: bool = False,
       max_iter=None, tol: float = 1e-6, info: bool = False, backend: str = "numpy"):
    r"""The Wasserstein-2 distance between two particle measures.

    For :math:`\mu = \sum_{i\le N} a_i\delta_{x_i}` and :math:`\nu = \sum_{j\le M} b_j\delta_{y_j}`
    on :math:`\mathbb R^d`,

    .. math::
        W_2(\mu,\nu)^2 = \min_{\pi\ge0,\ \pi 1 = a,\ \pi^\top 1 = b}\ \sum_{ij}\pi_{ij}|x_i-y_j|^2

    (Villani 2003; Peyré & Cuturi 2019, §3).  ``method``:

    * ``"exact"`` — POT's network simplex ``ot.emd2`` (Flamary et al. 2021) on the cost
      :math:`|x_i-y_j|^2`: exact, memory :math:`NM`;
    * ``"sinkhorn"`` — the debiased Sinkhorn divergence
      :math:`S_\varepsilon = \mathrm{OT}_\varepsilon(a,b) - \tfrac12\mathrm{OT}_\varepsilon(a,a)
      - \tfrac12\mathrm{OT}_\varepsilon(b,b)` (Feydy et al. 2019) in place of :math:`W_2^2`,
      see :func:`sinkhorn_divergence` for :math:`\varepsilon` (default
      :math:`(0.05\,D)^2`, :math:`D` the diagonal of the box holding both clouds) and its bias;
    * ``"auto"`` (default) — in 1-D the exact quantile formula (:func:`w2_1d`); otherwise
      ``"exact"`` while :math:`NM \le` :data:`EXACT_MAX_PAIRS` (:math:`3000^2`), else
      ``"sinkhorn"``.

    ``x``: shape ``(N,)`` or ``(N, d)``, ``y``: ``(M,)`` or ``(M, d)``; ``a``, ``b``:
    probability weights (uniform when omitted).  Returns :math:`W_2` — or :math:`W_2^2`
    (:math:`S_\varepsilon` for Sinkhorn) with ``squared=True``; with ``info=True`` a pair
    ``(value, {"method", "eps", ...})`` saying which method ran (and, for Sinkhorn, the
    iterations and the final marginal error).  ``max_iter`` bounds the solver's
    iterations, ``tol`` is Sinkhorn's marginal tolerance; a solver that stops short raises
    :class:`~mfderive.errors.SimulationError`.  ``backend="jax"`` runs Sinkhorn through
    POT's JAX backend (on a GPU when JAX has one; float64 needs ``jax_enable_x64``); the
    default ``"numpy"`` runs on the CPU.  Measured on 2 shared CPU cores (load ≈ 8,
    ``benchmarks/bench_transport.py``, Gaussian clouds in 2-D): exact 1.5 s at N = 1000 and
    7.4 s at N = 3000; Sinkhorn (NumPy) 28 s and 54 s — on a CPU the exact solver is the
    faster one up to :data:`EXACT_MAX_PAIRS`.

    >>> import numpy as np
    >>> x = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    >>> round(w2(x, x + [3.0, 4.0]), 10)     # W2(mu, mu + c) = |c|
    5.0
    >>> round(w2(x, x + [3.0, 4.0], method="sinkhorn", eps=0.5), 6)   # S_eps is exact here too
    5.0
    """
    _check_backend(backend)
    X, p, Y, q = _pair(x, y, a, b)
    if max_iter is not None:
        max_iter = count(max_iter, "max_iter", 1)
    sq, meta = _sq(X, p, Y, q, method, eps, max_iter, tol, backend)
    value = _result(sq, squared)
    return (value, meta) if info else value


def sinkhorn_divergence(x, y, a=None, b=None, *, eps=None, max_iter: int = 10_000,
                        tol: float = 1e-6, info: bool = False, backend: str = "numpy"):
    r"""The debiased Sinkhorn divergence :math:`S_\varepsilon(\mu,\nu)` (an estimate of :math:`W_2^2`).

    .. math::
        \mathrm{OT}_\varepsilon(\mu,\nu) = \min_{\pi\in\Pi(\mu,\nu)} \int|x-y|^2\,d\pi
            + \varepsilon\,\mathrm{KL}(\pi\,|\,\mu\otimes\nu),\qquad
        S_\varepsilon = \mathrm{OT}_\varepsilon(\mu,\nu) - \tfrac12\mathrm{OT}_\varepsilon(\mu,\mu)
            - \tfrac12\mathrm{OT}_\varepsilon(\nu,\nu)

    (Feydy, Séjourné, Vialard, Amari, Trouvé & Peyré 2019; Genevay, Peyré & Cuturi 2018),
    each :math:`\mathrm{OT}_\varepsilon` by POT's log-domain Sinkhorn (stable for
    :math:`\varepsilon` far below the cost scale) and its dual value.
    :math:`S_\varepsilon\ge0`, :math:`S_\varepsilon(\mu,\mu)=0`, and it is *exact* for
    translations: :math:`S_\varepsilon(\mu,\mu(\cdot-c)) = |c|^2` for every :math:`\varepsilon`
    (the cross term of :math:`|x-y-c|^2` is fixed by the marginals).  **Bias.**
    :math:`S_\varepsilon\to W_2^2` as :math:`\varepsilon\to0`.  Between smooth densities
    :math:`|S_\varepsilon - W_2^2| = O(\varepsilon^2)` (Chizat, Roussillon, Léger, Vialard &
    Peyré 2020).  Between discrete measures with distinct atoms and a unique optimal plan
    :math:`\pi^*`, :math:`S_\varepsilon = W_2^2 + \varepsilon\,(\tfrac12H(a) + \tfrac12H(b)
    - H(\pi^*)) + o(\varepsilon)` (:math:`H` the Shannon entropy; from
    :math:`\mathrm{KL}(\pi^*|a\otimes b) = H(a) + H(b) - H(\pi^*)`), a coefficient
    :math:`\le 0` that vanishes for two uniform measures of one size (:math:`\pi^*` a
    permutation).  In between (samples of a density, ε near the squared spacing of the
    atoms) the bias is :math:`O(\varepsilon)`.  Measured
    (``tests/simulate/test_transport.py``): for uniform samples of 60 and 120 points in
    the unit square (exact :math:`W_2^2` = 0.052 and 0.078), :math:`W_2^2 - S_\varepsilon`
    = 0.10–0.11 ε at ε = 0.04, 0.22–0.23 ε at ε = 0.01, and 0.29 ε at ε = 0.0025 (60
    points): :math:`S_\varepsilon` lies below :math:`W_2^2`, by less than ε/2.  Choose
    :math:`\varepsilon` below the squared scale of the differences to be resolved; the
    default is :math:`(0.05\,D)^2`, :math:`D` the diagonal of the box holding
    both clouds.  Each :math:`\mathrm{OT}_\varepsilon` is computed with ε-scaling (warm
    starts from :math:`\max C` down to :math:`\varepsilon`); iterations grow quickly as
    :math:`\varepsilon` falls below the squared spacing of the atoms (60 points in the
    unit square: about 200 at :math:`\varepsilon = 0.01`, 10⁴ at 0.0025), each
    :math:`O(NM)` in time and memory.  ``tol`` bounds POT's marginal error, the 2-norm of
    :math:`\pi^\top 1 - q`.

    Returns :math:`S_\varepsilon` (with ``info=True`` also ``{"eps", "iterations",
    "marginal_error"}``); raises :class:`~mfderive.errors.SimulationError` when a
    marginal error stays above ``tol`` after ``max_iter`` iterations.

    >>> round(sinkhorn_divergence([0.0, 1.0], [0.5, 1.5], eps=0.05), 8)   # |c|² = 0.25
    0.25
    """
    _check_backend(backend)
    X, p, Y, q = _pair(x, y, a, b)
    s, meta = _sinkhorn_sq(X, p, Y, q, eps, max_iter, tol, backend)
    s = max(s, 0.0)
    return (s, meta) if info else s


# ----------------------------------------------------------------------------- Gaussians


def _gaussian(m, S, name):
    mean = np.atleast_1d(np.asarray(float_array(m, f"the mean {name}"), dtype=np.float64))
    if mean.ndim != 1:
        raise SimulationInputError(f"the mean {name} must be a number or a vector, got shape {mean.shape}")
    d = mean.shape[0]
    C = np.asarray(float_array(S, f"the covariance of {name}"), dtype=np.float64)
    if C.ndim == 0 or C.shape == (1,):
        C = C.reshape(1, 1)
    if C.shape != (d, d):
        raise SimulationInputError(
            f"the covariance of {name} must have shape ({d}, {d}) for a mean of length {d}, got {C.shape}"
        )
    scale = max(1.0, float(np.max(np.abs(C))))
    if not np.allclose(C, C.T, rtol=0, atol=1e-12 * scale):
        raise SimulationInputError(f"the covariance of {name} is not symmetric")
    lam = np.linalg.eigvalsh(C)
    if lam[0] < -1e-12 * scale:
        raise SimulationInputError(
            f"the covariance of {name} is not positive semi-definite (smallest eigenvalue {lam[0]:.3g})"
        )
    return mean, (C + C.T) / 2


def w2_gaussian(m1, S1, m2, S2, *, squared: bool = False) -> float:
    r"""Closed-form :math:`W_2` between Gaussians :math:`N(m_1,\Sigma_1)` and :math:`N(m_2,\Sigma_2)`.

    .. math::
        W_2^2 = |m_1-m_2|^2 + \operatorname{tr}\Big(\Sigma_1+\Sigma_2
                - 2\big(\Sigma_2^{1/2}\Sigma_1\Sigma_2^{1/2}\big)^{1/2}\Big)

    (Dowson & Landau 1982; Givens & Shortt 1984; the Bures–Wasserstein distance, Peyré &
    Cuturi 2019, Remark 2.31), with principal matrix square roots from
    ``scipy.linalg.sqrtm``.  In 1-D it is :math:`(m_1-m_2)^2 + (s_1-s_2)^2`.  Means: numbers
    or vectors of length :math:`d`; covariances: numbers (variances, 1-D) or symmetric
    positive semi-definite :math:`d\times d` matrices (else
    :class:`~mfderive.errors.SimulationInputError`).

    >>> round(w2_gaussian(0.0, 1.0, 3.0, 4.0, squared=True), 12)   # 3² + (1 − 2)²
    10.0
    """
    from scipy.linalg import sqrtm

    a, A = _gaussian(m1, S1, "m1/S1")
    b, B = _gaussian(m2, S2, "m2/S2")
    if a.shape != b.shape:
        raise SimulationInputError(f"the two Gaussians live in dimensions {a.shape[0]} and {b.shape[0]}")
    rB = np.real(sqrtm(B))
    cross = np.real(sqrtm(rB @ A @ rB))
    sq = float(np.sum((a - b) ** 2) + np.trace(A) + np.trace(B) - 2 * np.trace(cross))
    return _result(sq, squared)


# ----------------------------------------------------------------------------- grids


def _grid_density(grid, density):
    if not isinstance(grid, Grid):
        raise GridError(f"grid must be an mfderive.Grid, got {type(grid).__name__}")
    try:
        m = np.asarray(float_array(density, "the grid density"), dtype=np.float64)
    except SimulationInputError as e:
        raise GridError(str(e)) from None
    if m.shape != grid.shape:
        raise GridError(f"the grid density has shape {m.shape}; the grid has shape {grid.shape}")
    if np.any(m < 0):
        raise GridError(f"the grid density must be non-negative; its minimum is {float(m.min()):g}")
    mass = math.fsum((m * grid.vol).ravel())
    if abs(mass - 1) > 1e-9:
        raise GridError(
            f"the grid density has mass {mass:.12g} (the sum of cell values × cell volume); "
            f"W2 is between probability measures: divide it by its mass"
        )
    return m


def w2_to_grid(x, a, grid, density, *, method: str = "auto", eps=None, squared: bool = False,
               max_iter=None, tol: float = 1e-6, info: bool = False, backend: str = "numpy"):
    r""":math:`W_2` between particles :math:`\mu = \sum_i a_i\delta_{x_i}` and a density on a grid.

    The density :math:`\rho` is given by its cell values :math:`m_j` on an
    :class:`~mfderive.Grid` (piecewise constant, cell :math:`C_j` carrying mass
    :math:`m_j|C|`; the masses must sum to 1 within :math:`10^{-9}`, else
    :class:`~mfderive.errors.GridError`).

    * **1-D: exact.**  The CDF of :math:`\rho` is piecewise linear, so its quantile
      :math:`F_\rho^{-1}` is affine on each cell's share of :math:`[0,1]`, and
      :math:`W_2^2 = \int_0^1|F_\mu^{-1}-F_\rho^{-1}|^2` is a finite sum of integrals of
      squared affine functions (Villani 2003, Thm 2.18).  No discretisation error.
    * **d ≥ 2: cells as atoms.**  :math:`\rho` is replaced by
      :math:`\rho_h = \sum_j m_j|C|\,\delta_{x_j}` at the cell centres and :func:`w2` is
      called (``method``, ``eps``, ``max_iter``, ``tol`` as there).  Moving each cell's
      uniform mass to its centre costs :math:`W_2(\rho,\rho_h)^2 \le \sum_k h_k^2/12`, so
      :math:`|W_2(\mu,\rho) - W_2(\mu,\rho_h)| \le (\sum_k h_k^2/12)^{1/2}`
      (:data:`GRID_ORDER` = 1 in :math:`h`); ``info=True`` reports this bound as
      ``"grid_error"``.

    ``a=None`` means uniform weights.  Returns :math:`W_2` (``squared=True``: :math:`W_2^2`).

    >>> import mfderive as mf
    >>> g = mf.Grid(0.0, 1.0, 10)
    >>> round(w2_to_grid([0.5], None, g, [1.0] * 10, squared=True), 12)  # ∫(t − 1/2)² dt on [0, 1]
    0.083333333333
    """
    _check_backend(backend)
    m = _grid_density(grid, density)
    X, p = _measure(x, a, "x")
    if X.shape[1] != grid.dim:
        raise SimulationInputError(
            f"the particles have {X.shape[1]} coordinate(s) per point; the grid has dimension {grid.dim}"
        )
    mass = m.ravel() * grid.vol
    if grid.dim == 1:
        if not (isinstance(method, str) and method in _METHODS):
            raise SimulationInputError(f"method must be one of {', '.join(map(repr, _METHODS))}, got {method!r}")
        edges = np.linspace(grid.lower[0], grid.upper[0], grid.shape[0] + 1)
        keep = mass > 0
        G = _pieces(mass[keep], edges[:-1][keep], edges[1:][keep])
        sq = _quantile_distance_sq(_atom_quantile(X, p), G)
        meta = {"method": "1d", "eps": 0.0, "grid_error": 0.0}
    else:
        if max_iter is not None:
            max_iter = count(max_iter, "max_iter", 1)
        keep = mass > 0
        Y, q = grid.centres[keep], mass[keep] / math.fsum(mass[keep])
        sq, meta = _sq(X, p, Y, q, method, eps, max_iter, tol, backend)
        meta = {**meta, "grid_error": math.sqrt(sum(h * h for h in grid.h) / 12)}
    value = _result(sq, squared)
    return (value, meta) if info else value
