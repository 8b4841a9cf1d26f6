r"""Sampled bounds on the Lions derivative :math:`D_mF` (Hu, Ren, Šiška & Szpruch 2021).

Their MFLD theorems assume :math:`D_mF` bounded and Lipschitz,
:math:`|D_mF(m,x)| \le K` and :math:`|D_mF(m,x) - D_mF(m',x')| \le L(W_1(m,m') + |x-x'|)`.
:func:`lions_derivative_bounds` compiles the engine's :math:`D_mF` (``mf.compile``) and
samples it on a box: random empirical measures with atoms in the box and points in the box.
Every number it reports is a **sampled lower estimate** of the true supremum (a sup over
samples, a Lipschitz ratio of sampled pairs whose :math:`W_1` is bounded above by the
coupling that moved them), not a proof.  Failures it detects:

* growth — on the boxes scaled by ``scales`` the sup-norm grows like :math:`R^p`,
  :math:`p > 1/2` fitted on the log-log slope (e.g. :math:`D_mF = 3w^2` for :math:`\int w^3d\mu`);
* a jump or kink — along random segments of the box, the finite-difference Lipschitz ratio at
  ``refine`` times finer spacing grows by more than half that factor (a Lipschitz function's
  ratio converges as the spacing shrinks; a jump's grows like 1/spacing).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ..derive.lions import lions_derivative
from ..errors import SimulationInputError
from ..flows.assumptions import AssumptionReport
from .inputs import count, float_array, inputs
from .lower import compile_expr

__all__ = ["lions_derivative_bounds"]


def lions_derivative_bounds(F, mu, box, data=None, values=None, atoms: int = 16, measures: int = 8,
                            points: int = 64, lines: int = 16, resolution: int = 32, refine: int = 8,
                            scales=(1.0,), seed=0) -> AssumptionReport:
    r"""Sampled estimates of :math:`\sup|D_mF|` and the Lipschitz constants of
    :math:`D_mF(m, x)` in :math:`x` and in :math:`m` (for :math:`W_1`) on ``box = (lower,
    upper)`` (one entry per variable of ``mu``), with a verdict (Hu, Ren, Šiška & Szpruch 2021).

    ``measures`` random measures of ``atoms`` uniform atoms in the box; ``points`` uniform
    evaluation points; the :math:`x`-Lipschitz ratio along ``lines`` random segments at
    ``resolution`` and ``refine × resolution`` points; the :math:`m`-Lipschitz ratio from
    moving every atom by :math:`10^{-3}` of the box width (ratio to the coupling cost
    :math:`\ge W_1`).  With ``scales = (1, 2, 4)`` the box is also scaled about its centre to
    detect growth; ``seed`` fixes the samples.  Returns an :class:`~mfderive.flows.assumptions.AssumptionReport`
    (``proof=False``: a sampled bound is an estimate, not a proof).

    >>> import sympy as sp, mfderive as mf
    >>> w = sp.Symbol("w_lbdoc", real=True); mu = mf.Measure("mu_lbdoc", (w,))
    >>> r = lions_derivative_bounds(mf.integral(w**3, mu), mu, ([-1.0], [1.0]), scales=(1, 2, 4))
    >>> r.holds, r.reason.split(":")[0]
    (False, 'D_mF grows with the box')
    """
    y = mu.point("y_bounds")
    D = lions_derivative(F, mu, at=y)
    comps = list(D)
    values, ms, data_args = inputs(mu, data, values, [*comps, F], y)
    fn = compile_expr([c.subs(values) for c in comps], ms, at=y)
    d = mu.dim
    if not (isinstance(box, (tuple, list)) and len(box) == 2):
        raise SimulationInputError("box must be a pair (lower, upper) of corners")
    lo = np.asarray(float_array(box[0], "the box's lower corner"), float).reshape(-1)
    hi = np.asarray(float_array(box[1], "the box's upper corner"), float).reshape(-1)
    if lo.shape != (d,) or hi.shape != (d,) or not np.all(hi > lo):
        raise SimulationInputError(f"box must be (lower, upper) with {d} entries each and lower < upper")
    for n, what in ((atoms, "atoms"), (measures, "measures"), (points, "points"), (lines, "lines"),
                    (resolution, "resolution"), (refine, "refine")):
        count(n, f"the number of {what}", 2 if what in ("resolution", "refine") else 1)
    seed = count(seed, "the seed", 0)
    D_at = lambda A, wts, P: fn(A, wts, *data_args, P).reshape(P.shape[0], -1)
    D_many = jax.jit(jax.vmap(D_at, in_axes=(0, None, 0)))    # one measure per row, own points
    wts = jnp.full((atoms,), 1.0 / atoms)
    norm = lambda v: np.linalg.norm(np.asarray(v), axis=-1)

    def on_box(lo, hi, rng):
        width = hi - lo
        A = lo + width * rng.random((measures, atoms, d))
        P = lo + width * rng.random((points, d))
        sup = float(norm(D_many(A, wts, np.concatenate([np.broadcast_to(P, (measures, points, d)), A], 1))).max())
        # x-Lipschitz: consecutive points along random segments, at two spacings
        a, b = lo + width * rng.random((lines, d)), lo + width * rng.random((lines, d))

        def ratio(n):
            t = np.linspace(0.0, 1.0, n + 1)
            seg = (a[:, None, :] + t[None, :, None] * (b - a)[:, None, :]).reshape(-1, d)
            v = np.asarray(D_many(A, wts, np.broadcast_to(seg, (measures, *seg.shape))))
            v = v.reshape(measures, lines, n + 1, -1)
            dx = np.linalg.norm(b - a, axis=-1)[None, :, None] / n
            return float((norm(np.diff(v, axis=2)) / dx).max())

        lip_x, lip_x_fine = ratio(resolution), ratio(resolution * refine)
        # m-Lipschitz: move every atom by δ (the coupling cost ≥ W1)
        delta = 1e-3 * width * (2 * rng.random((measures, atoms, d)) - 1)
        Pm = np.broadcast_to(P, (measures, points, d))
        change = norm(np.asarray(D_many(A + delta, wts, Pm)) - np.asarray(D_many(A, wts, Pm))).max(axis=1)
        lip_m = float((change / norm(delta).mean(axis=1)).max())
        return sup, lip_x, lip_x_fine, lip_m

    centre, half = (lo + hi) / 2, (hi - lo) / 2
    scales = [float(s) for s in scales]
    if not scales or not all(np.isfinite(s) and s > 0 for s in scales):
        raise SimulationInputError(f"scales must be finite positive numbers, got {scales}")
    results = [on_box(centre - s * half, centre + s * half, np.random.default_rng([seed, i]))
               for i, s in enumerate(scales)]
    sup, lip_x, lip_x_fine, lip_m = results[0]
    evidence = {"measures": measures, "atoms per measure": atoms, "points": points + atoms,
                "segments": lines, "spacings": (resolution, resolution * refine), "scales": tuple(scales),
                "sup at each scale": [r[0] for r in results],
                "x-Lipschitz at each scale": [max(r[1], r[2]) for r in results]}
    if not all(np.isfinite(v) for r in results for v in r):
        return AssumptionReport("D_mF bounded and Lipschitz", False, {}, "D_mF is not finite at some sampled "
                                "measure and point of the box", False, evidence)
    constants = {"sup|D_mF|": sup, "Lip_x": max(lip_x, lip_x_fine), "Lip_m(W1)": lip_m}
    name = "D_mF bounded and Lipschitz"
    note = "sampled estimates (lower bounds of the true constants), not a proof"
    if lip_x_fine > lip_x * refine / 2 and lip_x_fine > 1e-12:
        return AssumptionReport(name, False, constants,
                                f"D_mF is not Lipschitz in x: the finite-difference ratio grows from "
                                f"{lip_x:.3g} to {lip_x_fine:.3g} when the spacing is refined {refine}x "
                                f"(a jump or kink); {note}", False, evidence)
    if len(scales) > 1:
        s = np.log(np.asarray(scales))
        for j, what in ((0, "D_mF grows with the box"), (1, "the x-Lipschitz constant grows with the box")):
            v = np.log(np.maximum([max(r[j], r[2]) if j == 1 else r[0] for r in results], 1e-300))
            p = float(np.polyfit(s, v, 1)[0])
            if p > 0.5:
                return AssumptionReport(name, False, {**constants, "growth exponent": p},
                                        f"{what}: sup ~ R^{p:.2f} over the scales {tuple(scales)} "
                                        f"(unbounded on the whole space); {note}", False, evidence)
    return AssumptionReport(name, True, constants, f"on the box: {note}", False, evidence)
