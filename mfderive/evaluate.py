r"""Evaluate integrals against discrete measures: numbers for checks.

``evaluate(expr, {mu: (atoms, weights), nu: (points, weights)})`` replaces every
integral against a listed measure by its weighted sum
:math:`\int g\,d\mu = \sum_i w_i\,g(\xi_i)`, innermost first, and returns a SymPy
expression in the remaining free symbols (a number when none remain).  With SymPy
rationals as atoms and weights the result is exact; atoms and weights may also be
symbolic (a weight :math:`\varepsilon` gives the Gateaux derivative exactly).

Input rules, checked before anything is computed (a violation raises
:class:`~mfderive.EvaluationError` naming the measure and the entry):

* **Atoms** are finite.  A coordinate must agree with every assumption of its variable
  (a coordinate of a ``positive`` variable is positive) and must be real unless the
  variable is declared ``complex=True`` and not real: a non-real number for an undeclared
  variable is refused rather than silently used.  A symbolic coordinate is refused only
  where SymPy can tell that it breaks these rules.
* **Weights** are a one-dimensional sequence of finite real numbers, one per atom.  The
  weights of a probability :class:`~mfderive.Measure` are non-negative and sum to one:
  exactly for exact (rational, symbolic) weights, within
  :math:`\max(10^{-12}, N\varepsilon_{\text{mach}})` for floating-point ones
  (:math:`N\varepsilon_{\text{mach}}` bounds the rounding error of a sum of :math:`N`
  floats; :math:`\varepsilon_{\text{mach}}` is that of the weights' dtype, float64 unless
  a lower-precision array is given).  They are never renormalised silently.  The weights
  of a :class:`~mfderive.Data` measure may have any total mass and either sign: some
  quadrature rules have negative weights (Newton–Cotes of high order), and
  ``StationaryGap.difference`` is the signed measure :math:`\mu-\mu^*`.
* Sets, frozensets and dicts are refused wherever order matters (the atoms, one atom,
  the weights, the bounds of a :class:`Density`): they iterate in hash order.
* Strings are never parsed: every number goes through ``sympify(strict=True)``, and a
  ``str`` is refused before it gets there.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from functools import lru_cache

import numpy as np
import sympy as sp
from sympy.core.function import AppliedUndef

from .errors import EvaluationError, InfiniteValueError
from .integrals import BoundIntegral, LocalIntegral, substitute
from .measures import Data, Measure, as_sympy, check_measure, check_names

__all__ = ["evaluate", "discrete_measure", "Density"]

_WEIGHT_SUM_TOL = 1e-12  # floating-point weights of a Measure: |sum - 1| <= max(this, N eps)
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


def _unordered(v) -> bool:
    """Sets and dicts iterate in hash order, never in an order the user chose."""
    return isinstance(v, (AbstractSet, Mapping))


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


def _scalar(v, what: str) -> sp.Expr:
    """``v`` as a SymPy expression by ``sympify(strict=True)``; strings and bools refused."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, (bool, str, bytes)):
        raise EvaluationError(f"{what} must be a number or SymPy expression, got {v!r}")
    try:
        out = sp.sympify(v, strict=True)
    except (sp.SympifyError, TypeError):
        raise EvaluationError(f"{what} must be a number or SymPy expression, got {v!r}") from None
    if not isinstance(out, sp.Expr):
        raise EvaluationError(f"{what} must be a number or SymPy expression, got {v!r}")
    return out


def _defect(v: sp.Expr, real: bool) -> str | None:
    """Why ``v`` is not a finite (real, if asked) value, where SymPy can tell; else None."""
    if v.has(sp.nan):
        return "NaN"
    if v.has(sp.oo, -sp.oo, sp.zoo) or v.is_finite is False:
        return "not finite"
    if v.is_number:
        re, im = v.evalf(30, chop=True).as_real_imag()
        if not (re.is_finite and im.is_finite):
            return "not finite"
        if real and im != 0:
            return "not real"
    elif real and v.is_extended_real is False:
        return "not real"
    return None


def _negative(v: sp.Expr) -> bool:
    """Whether the real ``v`` is negative, where SymPy can tell."""
    if _real_number(v):
        return bool(v < 0)
    if v.is_number:
        return bool(v.evalf(30, chop=True).as_real_imag()[0] < 0)
    return v.is_extended_negative is True


def _equals_one(total: sp.Expr, tol: float) -> bool:
    """``total == 1``: exactly, or within ``tol`` where floats are involved."""
    d = sp.expand(total - 1)
    if d.has(sp.Float):  # drop the rounding noise of float coefficients
        d = d.xreplace({f: sp.S.Zero for f in d.atoms(sp.Float) if abs(f) <= tol})
        if d.is_number:
            return abs(complex(d.evalf(30))) <= tol
    return d == 0 or sp.simplify(d) == 0 or bool(d.is_number and d.equals(0))


def _check_coordinate(c: sp.Expr, var: sp.Symbol, what: str, name: str) -> None:
    """A coordinate must be finite, real unless ``var`` is declared complex, and agree with
    every assumption of ``var``."""
    if _real_number(c):  # the fast path for arrays of floats
        assumptions = _beyond_real(var)
    else:
        complex_ok = var.is_complex is True and var.is_extended_real is not True
        problem = _defect(c, real=not complex_ok)
        if problem:
            hint = "" if problem != "not real" else (
                f" (declare {var} with complex=True for complex atoms)" if var.is_real is not True
                else f" ({var} is declared real)"
            )
            raise EvaluationError(
                f"{what} is {c}, which is {problem}{hint}; give finite atoms for {name!r}"
            )
        assumptions = _ranked(var.assumptions0)
    for key, value in assumptions:
        if getattr(c, "is_" + key, None) is (not value):
            raise EvaluationError(
                f"{what} is {c}, but the variable {var} of {name!r} is declared "
                f"{'' if value else 'not '}{key}; give atoms in its domain"
            )


def _real_number(v: sp.Expr) -> bool:
    """A finite SymPy Integer, Rational or Float (NaN and oo are Numbers too, not finite)."""
    return isinstance(v, sp.Number) and v.is_finite is True


_REAL = sp.Dummy(real=True).assumptions0
_NAMED_FIRST = ("positive", "negative", "nonnegative", "nonpositive", "nonzero", "zero", "integer")


def _ranked(assumptions: dict) -> tuple:
    """The assumptions, the ones a user is likely to have typed (positive) before their
    consequences (extended_nonnegative, ...), so that the message names the former."""

    def rank(item):
        key = item[0]
        named = _NAMED_FIRST.index(key) if key in _NAMED_FIRST else len(_NAMED_FIRST)
        return named, key.startswith("extended_"), key

    return tuple(sorted(assumptions.items(), key=rank))


@lru_cache(maxsize=256)
def _beyond_real(var: sp.Symbol) -> tuple:
    """The assumptions of ``var`` that a finite real number may break (none for a variable
    declared real, complex or nothing)."""
    return _ranked({k: v for k, v in var.assumptions0.items() if _REAL.get(k) is not v})


def _check_weight(v: sp.Expr, i: int, measure) -> None:
    if not _real_number(v):
        problem = _defect(v, real=True)
        if problem:
            raise EvaluationError(
                f"weight {i} of {measure.name!r} is {v}, which is {problem}; weights are "
                "finite reals"
            )
    if isinstance(measure, Measure) and _negative(v):
        raise EvaluationError(
            f"weight {i} of {measure.name!r} is {v} < 0; a probability Measure has non-negative "
            "weights (declare a signed or fixed measure with mf.Data)"
        )


def _weights(weights, n: int, measure) -> tuple[sp.Expr, ...]:
    """Validated weights of ``measure`` (``n`` atoms); see the module docstring."""
    name = measure.name
    what = f"the weights of {name!r} must be an ordered one-dimensional sequence of {n} numbers"
    if isinstance(weights, (str, bytes, sp.Basic)) or _unordered(weights) or not _iterable(weights):
        raise EvaluationError(f"{what}, got {weights!r}")
    try:
        arr = np.asarray(weights, dtype=object)
    except (TypeError, ValueError):
        raise EvaluationError(f"{what}, got {weights!r}") from None
    if arr.ndim != 1:
        raise EvaluationError(f"{what}, got an array of shape {arr.shape}")
    if len(arr) != n:
        raise EvaluationError(f"{name!r} has {n} atoms but {len(arr)} weights")
    w = tuple(_scalar(v, f"weight {i} of {name!r}") for i, v in enumerate(arr))
    for i, v in enumerate(w):
        _check_weight(v, i, measure)
    if isinstance(measure, Measure):
        total = sp.Add(*w)
        if not _equals_one(total, max(_WEIGHT_SUM_TOL, n * _machine_eps(weights))):
            raise EvaluationError(
                f"{name!r} is a probability measure but its weights sum to {total}; "
                f"normalise them (or declare a fixed measure with mf.Data)"
            )
    return w


def _machine_eps(weights) -> float:
    """The machine epsilon of a floating-point weight array; float64's otherwise."""
    dtype = getattr(weights, "dtype", None)
    floating = dtype is not None and np.issubdtype(dtype, np.floating)
    return float(np.finfo(dtype if floating else float).eps)


def discrete_measure(spec, measure) -> tuple[tuple[tuple[sp.Expr, ...], ...], tuple[sp.Expr, ...]]:
    """Validate ``(atoms, weights)`` (or bare ``atoms``, uniform weights) for ``measure``.

    ``atoms`` has shape ``(N, d)`` with ``d = measure.dim`` (shape ``(N,)`` is accepted
    when ``d = 1``); ``weights`` has length ``N``.  The rules (finite atoms in the
    variables' domains; finite real weights, non-negative and of sum one for a
    probability :class:`Measure`, any sign and mass for a :class:`Data` measure) are
    those of the module docstring.
    """
    name = measure.name
    if isinstance(spec, tuple) and len(spec) == 2 and not _is_row(spec):
        atoms, weights = spec
    else:
        atoms, weights = spec, None
    if isinstance(atoms, (str, bytes)) or _unordered(atoms):
        raise EvaluationError(
            f"the atoms of {name!r} must be an ordered sequence of points (list, tuple, "
            f"array), got {type(atoms).__name__} {atoms!r}"
        )
    try:
        rows = list(atoms)
    except TypeError:
        raise EvaluationError(
            f"the atoms of {name!r} must be a sequence of points, got {atoms!r}"
        ) from None
    if not rows:
        raise EvaluationError(f"{name!r} was given no atoms")
    parsed = []
    for i, r in enumerate(rows):
        if measure.dim == 1 and not _iterable(r):
            r = (r,)
        if not _iterable(r) or _unordered(r):
            raise EvaluationError(
                f"atom {i} of {name!r} must be an ordered tuple of {measure.dim} coordinates, "
                f"got {r!r}"
            )
        r = tuple(r)
        if len(r) != measure.dim:
            raise EvaluationError(
                f"atom {i} of {name!r} has {len(r)} coordinate(s), but {name!r} has "
                f"{measure.dim} variable(s) {measure.variables}"
            )
        row = []
        for var, c in zip(measure.variables, r):
            what = f"coordinate {var} of atom {i} of {name!r}"
            c = _scalar(c, what)
            _check_coordinate(c, var, what, name)
            row.append(c)
        parsed.append(tuple(row))
    n = len(parsed)
    w = (sp.Rational(1, n),) * n if weights is None else _weights(weights, n, measure)
    return tuple(parsed), w


def _iterable(v) -> bool:
    if isinstance(v, (str, bytes, sp.Basic)) and not isinstance(v, sp.Tuple):
        return False
    if isinstance(v, np.ndarray):
        return v.ndim > 0
    try:
        iter(v)
    except TypeError:
        return False
    return True


def _is_row(spec) -> bool:
    """A 2-tuple of numbers for a 2-variable measure is one atom, not (atoms, weights)."""
    return all(not _iterable(c) for c in spec)


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

    Only for a density in the variables alone, built from SymPy's own functions (every
    symbol is renamed by ``lambdify(dummify=True)``, so no user-chosen name is printed
    into the generated code); otherwise None (the sign is taken as given).
    """
    plain = expr.atoms(sp.Symbol) <= set(variables) and all(
        not isinstance(f, AppliedUndef) and (type(f).__module__ or "").startswith("sympy.")
        for f in sp.preorder_traversal(expr)
    )
    if not plain:
        return None
    k = max(3, int(_SAMPLES ** (1 / len(variables))))
    grid = np.meshgrid(*[_axis(float(lo), float(hi), k) for lo, hi in box], indexing="ij")
    try:
        f = sp.lambdify(variables, expr, modules="numpy", dummify=True)
        with np.errstate(all="ignore"):
            vals = np.broadcast_to(np.asarray(f(*grid)), grid[0].shape)
    except (NameError, TypeError, ValueError, AttributeError, ZeroDivisionError):
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


def evaluate(expr, measures: Mapping) -> sp.Expr:
    r"""Replace every integral against the given discrete measures by its value.

    Parameters
    ----------
    expr : SymPy expression or Matrix
        A functional, a first variation, a Lions derivative (entry by entry), ...
    measures : dict
        ``{measure: (atoms, weights)}`` or ``{measure: atoms}`` (uniform weights)
        for each :class:`~mfderive.Measure` or :class:`~mfderive.Data` to evaluate, or
        ``{measure: Density(expr, bounds)}`` for a measure with a density.

    Returns
    -------
    SymPy expression
        Integrals against measures not listed stay symbolic.

    Raises
    ------
    InfiniteValueError
        A local functional (entropy, ∫m²) of a measure given by atoms: it has no
        density, and these functionals are +∞ there.
    EvaluationError
        Malformed atoms or weights, or a :class:`Density` that is negative or (for a
        probability Measure) does not integrate to one; the rules are in the module
        docstring.

    Examples
    --------
    >>> import sympy as sp, mfderive as mf
    >>> w = sp.Symbol("w"); mu = mf.Measure("mu", (w,))
    >>> mf.evaluate(mf.integral(w**2, mu), {mu: ([1, 3], [sp.Rational(1, 4), sp.Rational(3, 4)])})
    7
    """
    if isinstance(expr, sp.MatrixBase):  # a Lions derivative: entry by entry
        return expr.applyfunc(lambda e: evaluate(e, measures))
    expr = as_sympy(expr, "the expression to evaluate")
    if not isinstance(measures, Mapping):
        raise EvaluationError(
            f"measures must be a dict {{measure: (atoms, weights)}}, got {type(measures).__name__}"
        )
    table = {}
    for M in measures:
        check_measure(M, "a key of the measures dict")
    # densities are matched to their measure by name: two Measures named alike must not meet
    check_names([expr], list(measures))
    for M, spec in measures.items():
        table[M] = spec.check(M) if isinstance(spec, Density) else discrete_measure(spec, M)
    return _eval(expr, table)


def _integrate(expr, limits):
    return sp.integrate(expr, *limits, conds="none")


def _eval(e, table):
    if isinstance(e, BoundIntegral):
        g = _eval(e.integrand, table)
        M = e.measure
        if M not in table:
            return e if g == e.integrand else e.func(g, M, e.over)
        spec = table[M]
        if isinstance(spec, Density):
            limits = spec.limits(M, e.over)
            if isinstance(e, LocalIntegral):
                g = g.replace(
                    lambda f: isinstance(f, AppliedUndef) and f.func.__name__ == M.name,
                    lambda f: spec.at(M, f.args),
                ).doit()
                return _integrate(g, limits)
            return _integrate(g * spec.at(M, e.over), limits)
        if isinstance(e, LocalIntegral):
            if any(f.func.__name__ == M.name for f in g.atoms(AppliedUndef)):
                raise InfiniteValueError(
                    f"{sp.sstr(e)} is a local functional of the density of {M.name!r}, "
                    f"which was given as a discrete measure (atoms); a discrete measure "
                    f"has no density, and the entropy, relative entropy and "
                    f"integrals of m^p (p>1) are +infinity there"
                )
            raise EvaluationError(
                f"{sp.sstr(e)} is a Lebesgue integral over the variables of {M.name!r}; "
                f"it cannot be evaluated from the atoms of {M.name!r}"
            )
        atoms, weights = table[M]
        nested = g.has(BoundIntegral)
        terms = []
        for row, w in zip(atoms, weights):
            rep = dict(zip(e.over, row))
            terms.append(w * (substitute(g, rep) if nested else g.xreplace(rep)))
        return sp.Add(*terms)
    if not e.args or isinstance(e, (sp.Symbol, Measure, Data)):
        return e
    args = [_eval(a, table) for a in e.args]
    if all(a is b for a, b in zip(args, e.args)):
        return e
    return e.func(*args)
