r"""Checks of the assumptions of the mean-field Langevin theorems (Hu, Ren, Šiška & Szpruch 2021).

Their convergence results assume a **dissipative** confinement,

.. math::
    \nabla U(x)\cdot x \;\ge\; C_U\,|x|^2 + C' \qquad\text{for all } x,\ \text{some } C_U > 0,\ C'\in\mathbb R,

and a functional :math:`F` whose Lions derivative :math:`D_mF(m, x)` is bounded and Lipschitz
(in :math:`x` and in :math:`m` for :math:`W_1`).  :func:`dissipativity` decides the first
symbolically for polynomial :math:`U` (and numerically, with the evidence, otherwise); the
second is numerical (:func:`mfderive.simulate.assumptions.lions_derivative_bounds`).  Both
return an :class:`AssumptionReport`.

For a polynomial :math:`U` write :math:`\varphi(x) = \nabla U(x)\cdot x = \sum_k \varphi_k(x)`
in homogeneous parts (:math:`\varphi_k = k\,U_k`, Euler's identity).  With :math:`n` its degree:

* :math:`n \le 1`: :math:`\varphi` grows at most linearly, no :math:`C_U > 0` — fails;
* :math:`n = 2`: :math:`\varphi = x^\top A x + b\cdot x + c`; it holds iff :math:`A \succ 0`,
  with :math:`C_U = \lambda_{\min}(A)`, :math:`C' = c` when :math:`b = 0`, else
  :math:`C_U = \lambda_{\min}/2`, :math:`C' = c - |b|^2/(2\lambda_{\min})` (from
  :math:`\tfrac{\lambda}{2}r^2 - |b|r \ge -|b|^2/(2\lambda)`);
* :math:`n > 2`: it holds iff the leading form :math:`\varphi_n` is positive on the unit sphere
  (then :math:`\varphi - |x|^2 \to \infty` and :math:`C_U = 1`,
  :math:`C' = \min_x(\varphi(x) - |x|^2)`); in one variable this is the sign of the leading
  coefficient and :math:`C'` is computed exactly from the real critical points; in several
  variables the minima over the sphere and of :math:`\varphi - |x|^2` are sampled/optimised
  numerically and reported as estimates.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from ..derive.measures import as_sympy
from ..errors import InvalidExpressionError, InvalidVariablesError

__all__ = ["AssumptionReport", "dissipativity"]


@dataclass(frozen=True)
class AssumptionReport:
    """Whether an assumption ``name`` holds, the ``constants`` found (a dict), the
    ``reason`` (which part fails and where, or how it was established), whether that was a
    ``proof`` (symbolic) or a sampled estimate, and the ``evidence`` (sample sizes, points)."""

    name: str
    holds: bool
    constants: dict = field(default_factory=dict)
    reason: str = ""
    proof: bool = False
    evidence: dict = field(default_factory=dict)

    def __bool__(self):
        return bool(self.holds)

    def __repr__(self):
        verdict = "holds" if self.holds else "FAILS"
        how = "proved" if self.proof else "sampled estimate, not a proof"
        consts = ", ".join(f"{k}={_fmt(v)}" for k, v in self.constants.items())
        return f"<{self.name}: {verdict} ({how}); {consts}; {self.reason}>"


def _fmt(v):
    if isinstance(v, sp.Basic):
        return str(v)
    if isinstance(v, float):
        return f"{v:.6g}"
    return repr(v)


def _variables(variables):
    vs = tuple(variables) if isinstance(variables, (tuple, list)) else (variables,)
    if not vs or not all(isinstance(v, sp.Symbol) for v in vs):
        raise InvalidVariablesError(f"variables must be SymPy Symbols (a tuple of them), got {variables!r}")
    if len(set(vs)) != len(vs):
        raise InvalidVariablesError(f"variables repeat a symbol: {vs}")
    return vs


def dissipativity(U, variables, samples: int = 2000, seed: int = 0) -> AssumptionReport:
    r"""Is the confinement :math:`U` dissipative, :math:`\nabla U(x)\cdot x \ge C_U|x|^2 + C'`
    with :math:`C_U > 0` (Hu, Ren, Šiška & Szpruch 2021, the assumption of their Theorems 3–4)?

    ``U`` is a SymPy expression in ``variables`` (a Symbol or a tuple; other free symbols are
    refused: give them values first).  Polynomials are decided symbolically (see the module
    docstring; ``proof=True`` where every step was exact); otherwise :math:`\varphi(x)/|x|^2`
    is sampled on ``samples`` random directions at radii :math:`10^{-1}\dots10^{3}` and the
    reported :math:`C_U` is its minimum over the two largest radii — an estimate, not a proof.

    >>> import sympy as sp
    >>> x = sp.Symbol("x_dissdoc", real=True)
    >>> dissipativity(x**4 - x**2, x).constants
    {'C_U': 1, "C'": -9/16}
    >>> dissipativity(-x**2, x).holds
    False
    """
    vs = _variables(variables)
    U = as_sympy(U, "the confinement U")
    extra = U.free_symbols - set(vs)
    if extra:
        raise InvalidExpressionError(f"U has free symbols {sorted(map(str, extra))} besides the variables {vs}: "
                                     f"substitute their values first")
    phi = sp.expand(sum(sp.diff(U, v) * v for v in vs))
    if phi.is_polynomial(*vs):
        return _polynomial(phi, vs)
    return _sampled(phi, vs, samples, seed)


def _polynomial(phi, vs) -> AssumptionReport:
    name = "dissipativity"
    P = sp.Poly(phi, *vs)
    n = P.total_degree()
    if phi == 0 or n <= 1:
        return AssumptionReport(name, False, {"C_U": 0}, f"∇U·x = {phi} grows at most linearly: no C_U > 0", True)
    parts = {k: sp.Add(*[c * sp.Mul(*[v**e for v, e in zip(vs, m)]) for m, c in P.terms() if sum(m) == k])
             for k in range(n + 1)}
    if n == 2:
        A = sp.hessian(parts[2], vs) / 2
        b = sp.Matrix([parts[1].coeff(v) for v in vs])
        c = parts[0]
        eig = list(A.eigenvals())
        lam = sp.Min(*eig) if len(eig) > 1 else eig[0]
        lam = sp.nsimplify(lam) if lam.is_number else lam
        if not (lam.is_number and lam.is_positive):
            return AssumptionReport(name, False, {"C_U": lam},
                                    f"∇U·x = {phi}: its quadratic part x·Ax has λ_min(A) = {lam} ≤ 0 "
                                    f"(along its eigenvector ∇U·x ≤ λ_min|x|² + O(|x|))", True)
        if b.is_zero_matrix:
            return AssumptionReport(name, True, {"C_U": lam, "C'": c},
                                    f"∇U·x = {phi} = x·Ax + {c}, λ_min(A) = {lam}", True)
        bb = (b.T * b)[0]
        return AssumptionReport(name, True, {"C_U": lam / 2, "C'": sp.simplify(c - bb / (2 * lam))},
                                f"∇U·x = {phi}: λ_min(A) = {lam}, linear part absorbed by half of it", True)
    lead = parts[n]
    if n % 2 == 1:
        return AssumptionReport(name, False, {}, f"∇U·x = {phi} has odd degree {n}: its leading part {lead} "
                                f"changes sign, so ∇U·x → −∞ along some direction", True)
    rest = sp.expand(phi - sum(v**2 for v in vs))
    if len(vs) == 1:
        (v,) = vs
        a = sp.Poly(lead, v).LC()
        if not a.is_positive:
            return AssumptionReport(name, False, {}, f"∇U·x = {phi}: leading coefficient {a} ≤ 0 at degree {n}",
                                    True)
        crit = [r for r in sp.Poly(sp.diff(rest, v), v).real_roots()]
        vals = [sp.nsimplify(sp.simplify(rest.subs(v, r))) for r in crit]
        cprime = sp.Min(*vals) if vals else sp.S.Zero
        cprime = sp.simplify(cprime)
        return AssumptionReport(name, True, {"C_U": sp.S.One, "C'": cprime},
                                f"∇U·x = {phi}: leading term {lead} of even degree {n}; "
                                f"C' = min(∇U·x − x²) over its {len(crit)} real critical point(s)", True)
    # several variables: positivity of the leading form on the sphere, sampled
    from scipy.optimize import minimize

    rng = np.random.default_rng(0)
    dirs = rng.standard_normal((4000, len(vs)))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    lead_f = _numeric(lead, vs)
    m = float(np.min(lead_f(dirs)))
    evidence = {"directions": len(dirs), "min leading form on sphere": m}
    if not m > 0:
        i = int(np.argmin(lead_f(dirs)))
        return AssumptionReport(name, False, {}, f"the leading form {lead} of ∇U·x is ≤ 0 at the direction "
                                f"{dirs[i].round(4).tolist()}: ∇U·x ≤ o(|x|^{n}) there", False, evidence)
    rest_f = _numeric(rest, vs)
    best = min(minimize(lambda z: float(rest_f(z[None])[0]), x0, method="Nelder-Mead",
                        options=dict(xatol=1e-10, fatol=1e-12, maxiter=4000)).fun
               for x0 in rng.standard_normal((20, len(vs))))
    evidence["multistart minimisations"] = 20
    return AssumptionReport(name, True, {"C_U": 1.0, "C'": float(best)},
                            f"the leading form {lead} of ∇U·x is positive on 4000 sampled directions "
                            f"(min {m:.3g}); C' = min(∇U·x − |x|²) by 20 Nelder–Mead starts", False, evidence)


def _numeric(expr, vs):
    """A NumPy evaluator of the polynomial ``expr`` at the rows of ``X`` (from its terms;
    no generated source)."""
    P = sp.Poly(expr, *vs)
    exps = np.array([m for m, _ in P.terms()], dtype=float).reshape(-1, len(vs))
    coef = np.array([float(c) for _, c in P.terms()])
    return lambda X: np.prod(np.asarray(X, float)[:, None, :] ** exps[None], axis=2) @ coef


RADII = (0.1, 1.0, 10.0, 100.0, 1000.0)


def _sampled(phi, vs, samples, seed) -> AssumptionReport:
    """Not a polynomial: φ(rθ)/r² on random directions θ and radii r, by exact SymPy
    evaluation (``evalf``) of each sample: the evidence for an estimate."""
    rng = np.random.default_rng(seed)
    k = max(1, samples // len(RADII))
    dirs = rng.standard_normal((k, len(vs)))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    ratio = np.empty((k, len(RADII)))
    for i, th in enumerate(dirs):
        for j, r in enumerate(RADII):
            val = phi.evalf(30, subs={v: sp.Float(r * t, 30) for v, t in zip(vs, th)})
            if not (val.is_number and val.is_real and val.is_finite):
                raise InvalidExpressionError(f"∇U·x = {phi} is not a finite real number at "
                                             f"{(r * th).round(6).tolist()}: {val}")
            ratio[i, j] = float(val) / r**2
    evidence = {"directions": k, "radii": RADII, "samples": k * len(RADII),
                "min φ/|x|² at each radius": ratio.min(axis=0).round(6).tolist()}
    c_est = float(ratio[:, -2:].min())
    if not c_est > 0:
        i, j = np.unravel_index(np.argmin(ratio[:, -2:]), (k, 2))
        where = (RADII[-2 + j] * dirs[i]).round(4).tolist()
        return AssumptionReport("dissipativity", False, {"C_U": c_est},
                                f"∇U·x/|x|² = {ratio[i, -2 + j]:.4g} ≤ 0 at x = {where}: no C_U > 0 "
                                f"(sampled)", False, evidence)
    far, near = float(ratio[:, -1].min()), float(ratio[:, -2].min())
    if far < near / 2:
        return AssumptionReport("dissipativity", False, {"C_U": 0.0},
                                f"∇U·x/|x|² decays with the radius (min {near:.3g} at r = {RADII[-2]:g}, "
                                f"{far:.3g} at r = {RADII[-1]:g}): no C_U > 0 (sampled)", False, evidence)
    cu = c_est / 2
    cprime = float(np.min((ratio - cu) * np.array(RADII) ** 2))
    return AssumptionReport("dissipativity", True, {"C_U": cu, "C'": cprime},
                            f"∇U·x/|x|² ≥ {c_est:.4g} on the sampled directions at radii ≥ {RADII[-2]:g}; "
                            f"C_U taken as half of it, C' the sampled minimum of ∇U·x − C_U|x|²",
                            False, evidence)
