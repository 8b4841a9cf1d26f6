r""":class:`Density`: a measure given by a density on a box, for :func:`~mfderive.evaluate`.

Bounds are finite or infinite real numbers (never strings: a string would reach
``sympify``, which runs ``eval``), lower < upper.  The density is checked non-negative
(symbolically where SymPy decides, else sampled) and, for a probability
:class:`~mfderive.Measure`, of mass one.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import sympy as sp

from ..errors import EvaluationError
from .discrete import _equals_one, _iterable, _negative, _scalar, _unordered
from .measures import Measure, as_sympy

__all__ = ['Density']


_MASS_TOL = 1e-10  # a float or numerically integrated density mass: |mass - 1| <= this
_SIGN_TOL = 1e-12  # a sampled density is negative below -this * max(1, max |density|)
_SAMPLES = 20_000  # grid points for a numerical sign check of a density


class Density:
    r"""A measure given by a density: ``Density(expr, bounds)``.

    ``expr`` is a SymPy expression in the measure's variables (in order); ``bounds`` a
    list of ``(low, high)`` per variable (default the whole line).  In
    :func:`evaluate`, :math:`\int g\,d\mu = \int g\,\mathrm{expr}\,d\xi` by
    ``sympy.integrate`` and local functionals get the density substituted, so the
    entropy of a Gaussian is finite and exact.

    Checked here: the density is a SymPy expression (a string is refused, not parsed)
    free of ``nan``, ``zoo`` and ``oo``, and not a negative constant; each bound is a real
    number (``int``, ``float``, NumPy or SymPy number; never a string), not NaN, with
    ``low < high``; ``-oo`` as a lower and ``oo`` as an upper bound are allowed (the
    default is the whole line).

    Checked by :func:`evaluate`, once per measure, since the variables are the measure's:

    * the density is non-negative on the box :math:`B`.  SymPy's assumptions decide it
      where they can (each variable replaced by a real symbol on the half-line
      :math:`[\mathrm{low},\infty)`, :math:`(-\infty,\mathrm{high}]` or the line).
      Otherwise, if the density has no parameters besides the variables, it is sampled on
      a grid of about 20 000 points of :math:`B` (an infinite side reached through
      :math:`t/(1-t)`) and refused if a sample is below
      :math:`-10^{-12}\max(1,\max|\mathrm{expr}|)`.  A density with parameters whose sign
      SymPy cannot decide is taken as given.
    * for a probability :class:`~mfderive.Measure`, :math:`\int_B \mathrm{expr}\,d\xi = 1`
      by the same ``sympy.integrate`` that evaluate uses: exactly for an exact density,
      within :math:`10^{-10}` for one with floats or without a closed form (then
      integrated numerically, which needs the density free of parameters).  A density
      of a :class:`~mfderive.Data` measure may have any mass.

    >>> import sympy as sp, mfderive as mf
    >>> w = sp.Symbol("w"); mu = mf.Measure("mu", (w,))
    >>> uniform = mf.Density(1, [(0, 1)])
    >>> mf.evaluate(mf.integral(w, mu), {mu: uniform}), mf.evaluate(mf.entropy(mu), {mu: uniform})
    (1/2, 0)
    """

    def __init__(self, expr, bounds=None):
        self.expr = as_sympy(expr, "the density")
        if self.expr.has(sp.nan, sp.zoo, sp.oo, -sp.oo):
            raise EvaluationError(
                f"the density {self.expr} is not finite (it contains nan, zoo or oo); "
                "give a finite SymPy expression"
            )
        if self.expr.is_number and _negative(self.expr):
            raise EvaluationError(f"the density {self.expr} is negative; a density is >= 0")
        self.bounds = None if bounds is None else _bounds(bounds)
        self._checked: set = set()

    def box(self, measure) -> tuple[tuple[sp.Expr, sp.Expr], ...]:
        """The ``(low, high)`` per variable of ``measure`` (the whole line by default)."""
        bounds = self.bounds or ((-sp.oo, sp.oo),) * measure.dim
        if len(bounds) != measure.dim:
            raise EvaluationError(
                f"Density bounds have {len(bounds)} entries but {measure.name!r} has "
                f"{measure.dim} variable(s)"
            )
        return bounds

    def limits(self, measure, over):
        return [(v, lo, hi) for v, (lo, hi) in zip(over, self.box(measure))]

    def at(self, measure, point):
        return self.expr.xreplace(dict(zip(measure.variables, point)))

    def check(self, measure) -> "Density":
        """Validate the density as one of ``measure`` (see the class docstring); cached."""
        if measure in self._checked:
            return self
        box = self.box(measure)
        _check_sign(self.expr, measure, box)
        if isinstance(measure, Measure):
            _check_mass(self.expr, measure, self.limits(measure, measure.variables))
        self._checked.add(measure)
        return self


def _bounds(bounds) -> tuple[tuple[sp.Expr, sp.Expr], ...]:
    if isinstance(bounds, (str, bytes)) or _unordered(bounds) or not _iterable(bounds):
        raise EvaluationError(
            f"Density bounds must be a list of (low, high) pairs, one per variable, "
            f"got {bounds!r}"
        )
    out = []
    for i, pair in enumerate(bounds):
        if isinstance(pair, (str, bytes)) or _unordered(pair) or not _iterable(pair):
            raise EvaluationError(
                f"Density bounds entry {i} must be a (low, high) pair, got {pair!r}"
            )
        pair = tuple(pair)
        if len(pair) != 2:
            raise EvaluationError(
                f"Density bounds entry {i} must be a (low, high) pair, got {len(pair)} values "
                f"{pair!r}"
            )
        lo = _bound(pair[0], f"the lower bound of Density bounds entry {i}")
        hi = _bound(pair[1], f"the upper bound of Density bounds entry {i}")
        if not bool(lo < hi):
            raise EvaluationError(
                f"Density bounds entry {i} is ({lo}, {hi}): the lower bound must be below the "
                "upper one"
            )
        out.append((lo, hi))
    return tuple(out)


def _bound(b, what: str) -> sp.Expr:
    v = _scalar(b, what)
    if not v.is_number or v.has(sp.nan, sp.zoo) or v.is_extended_real is not True:
        raise EvaluationError(f"{what} must be a real number (or -oo/oo), got {b!r}")
    return v


def _check_sign(expr: sp.Expr, measure, box) -> None:
    """Refuse a density that SymPy proves, or a grid sample shows, negative on ``box``."""
    reps = {}
    for v, (lo, hi) in zip(measure.variables, box):
        if lo.is_finite:
            reps[v] = lo + sp.Dummy(nonnegative=True)
        elif hi.is_finite:
            reps[v] = hi - sp.Dummy(nonnegative=True)
        else:
            reps[v] = sp.Dummy(real=True)
    sign = expr.xreplace(reps).is_nonnegative
    if sign is False:
        raise EvaluationError(
            f"the density {expr} of {measure.name!r} is negative on its bounds; a density is >= 0"
        )
    if sign is None:
        low = _sampled_minimum(expr, measure.variables, box)
        if low is not None:
            raise EvaluationError(
                f"the density {expr} of {measure.name!r} is negative on its bounds "
                f"(it is {low[1]:.3g} at {low[0]}); a density is >= 0"
            )


def _sampled_minimum(expr, variables, box):
    """``(point, value)`` of a sampled negative value of ``expr`` on ``box``, or None.

    The density is evaluated on the samples by :func:`_on_arrays`, a walk over the
    expression tree with NumPy functions (no code is generated or executed); a density
    with other symbols or functions outside that table is taken as given (None).
    """
    if not expr.atoms(sp.Symbol) <= set(variables):
        return None
    k = max(3, int(_SAMPLES ** (1 / len(variables))))
    grid = np.meshgrid(*[_axis(float(lo), float(hi), k) for lo, hi in box], indexing="ij")
    try:
        with np.errstate(all="ignore"):
            vals = np.broadcast_to(np.asarray(_on_arrays(expr, dict(zip(variables, grid)))), grid[0].shape)
    except _NoNumPy:
        return None
    vals = np.real(vals).astype(float)
    finite = np.isfinite(vals)
    if not finite.any():
        return None
    scale = max(1.0, float(np.max(np.abs(vals[finite]))))
    i = np.argmin(np.where(finite, vals, np.inf))
    value = float(vals.flat[i])
    if value >= -_SIGN_TOL * scale:
        return None
    return tuple(float(g.flat[i]) for g in grid), value


class _NoNumPy(Exception):
    """An expression node :func:`_on_arrays` has no NumPy function for."""


_NUMPY = {  # SymPy function class -> NumPy ufunc, for sampling a density's sign
    sp.exp: np.exp, sp.log: np.log, sp.sin: np.sin, sp.cos: np.cos, sp.tan: np.tan,
    sp.sinh: np.sinh, sp.cosh: np.cosh, sp.tanh: np.tanh, sp.atan: np.arctan,
    sp.Abs: np.abs, sp.sign: np.sign, sp.Max: np.maximum, sp.Min: np.minimum,
    sp.erf: np.vectorize(math.erf, otypes=[float]),
}


def _on_arrays(e, env):
    """The value of ``e`` with its symbols bound to NumPy arrays in ``env``."""
    if e in env:
        return env[e]
    if e.is_number:
        return complex(e) if e.is_extended_real is False else float(e)
    if isinstance(e, sp.Add):
        return sum(_on_arrays(a, env) for a in e.args)
    if isinstance(e, sp.Mul):
        out = 1.0
        for a in e.args:
            out = out * _on_arrays(a, env)
        return out
    if isinstance(e, sp.Pow):
        return np.power(_on_arrays(e.base, env), _on_arrays(e.exp, env))
    if isinstance(e, sp.Piecewise):
        out = np.nan
        for value, cond in reversed(e.args):
            out = np.where(_on_arrays(cond, env), _on_arrays(value, env), out)
        return out
    if isinstance(e, (sp.StrictLessThan, sp.LessThan, sp.StrictGreaterThan, sp.GreaterThan)):
        lhs, rhs = _on_arrays(e.lhs, env), _on_arrays(e.rhs, env)
        return {sp.StrictLessThan: np.less, sp.LessThan: np.less_equal,
                sp.StrictGreaterThan: np.greater, sp.GreaterThan: np.greater_equal}[type(e)](lhs, rhs)
    if e is sp.true or e is sp.false:
        return bool(e)
    for f, g in _NUMPY.items():
        if type(e) is f:
            args = [_on_arrays(a, env) for a in e.args]
            return g(*args) if f not in (sp.Max, sp.Min) else functools.reduce(g, args)
    raise _NoNumPy(type(e).__name__)


def _axis(lo: float, hi: float, k: int) -> np.ndarray:
    """``k`` sample points of ``[lo, hi]``; an infinite side through ``t/(1-t)``."""
    if np.isfinite(lo) and np.isfinite(hi):
        return np.linspace(lo, hi, k)
    if np.isfinite(lo):
        t = np.linspace(0, 1, k + 1)[:-1]
        return lo + t / (1 - t)
    if np.isfinite(hi):
        t = np.linspace(0, 1, k + 1)[:-1]
        return hi - t / (1 - t)
    t = np.linspace(-1, 1, k + 2)[1:-1]
    return t / (1 - t**2)


def _check_mass(expr: sp.Expr, measure, limits) -> None:
    """The density of a probability measure integrates to one (see :class:`Density`)."""
    mass = _integrate(expr, limits)
    tol = _MASS_TOL
    if mass.has(sp.Integral) or mass.has(sp.nan):
        if expr.free_symbols - set(measure.variables):
            raise EvaluationError(
                f"SymPy finds no closed form for the mass of the density {expr} of "
                f"{measure.name!r}, so it cannot be checked to be 1; give a density SymPy can "
                "integrate, or numbers for its parameters"
            )
        mass = sp.Integral(expr, *limits).evalf(30)
    if not _equals_one(mass, tol):
        raise EvaluationError(
            f"the density {expr} of the probability measure {measure.name!r} integrates to "
            f"{mass}, not 1; normalise it (or declare a fixed measure with mf.Data)"
        )


def _integrate(expr, limits):
    return sp.integrate(expr, *limits, conds="none")
