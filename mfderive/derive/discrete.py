r"""Discrete measures for :func:`~mfderive.evaluate`: atoms and weights, checked.

* **Atoms** are finite.  A coordinate must agree with every assumption of its variable
  and must be real unless the variable is declared ``complex=True`` and not real.
* **Weights** are a one-dimensional sequence of finite real numbers, one per atom.  The
  weights of a probability :class:`~mfderive.Measure` are non-negative and sum to one:
  exactly for exact weights, within :math:`\max(10^{-12}, N\varepsilon_{\text{mach}})`
  for floating-point ones.  They are never renormalised silently.  The weights of a
  :class:`~mfderive.Data` measure may have any total mass and either sign (some quadrature
  rules have negative weights; ``StationaryGap.difference`` is the signed
  :math:`\mu-\mu^*`).
* Sets, frozensets and dicts are refused wherever order matters.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from functools import lru_cache

import numpy as np
import sympy as sp

from ..errors import EvaluationError
from .measures import Measure

__all__ = ['discrete_measure']


_WEIGHT_SUM_TOL = 1e-12  # floating-point weights of a Measure: |sum - 1| <= max(this, N eps)


def _unordered(v) -> bool:
    """Sets and dicts iterate in hash order, never in an order the user chose."""
    return isinstance(v, (AbstractSet, Mapping))


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
