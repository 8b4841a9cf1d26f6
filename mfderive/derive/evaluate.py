r"""Evaluate integrals against discrete measures: numbers for checks.

``evaluate(expr, {mu: (atoms, weights), nu: (points, weights)})`` replaces every
integral against a listed measure by its weighted sum
:math:`\int g\,d\mu = \sum_i w_i\,g(\xi_i)`, innermost first, and returns a SymPy
expression in the remaining free symbols (a number when none remain).  With SymPy
rationals as atoms and weights the result is exact; atoms and weights may also be
symbolic (a weight :math:`\varepsilon` gives the Gateaux derivative exactly).

The input rules are in :mod:`mfderive.derive.discrete` and :mod:`mfderive.derive.densities`.
A :class:`~mfderive.derive.measures.SignedMeasure` (``mf.Measure(..., signed=True)``) takes
weights of any sign and total mass, given explicitly (``(atoms, weights)``: bare atoms
would mean the weights :math:`1/N`, a probability measure), and a density of any sign; the
entropy and relative entropy of a signed measure are refused (:math:`m\log m` needs
:math:`m \ge 0`).
"""

from __future__ import annotations

from collections.abc import Mapping

import sympy as sp
from sympy.core.function import AppliedUndef

from ..errors import EvaluationError, InfiniteValueError
from .atoms import BoundIntegral, LocalIntegral, substitute
from .densities import Density, _integrate
from .discrete import _is_row, discrete_measure
from .measures import Data, Measure, SignedMeasure, as_sympy, check_measure, check_names

__all__ = ['evaluate']


def evaluate(expr, measures: Mapping) -> sp.Expr:
    r"""Replace every integral against the given discrete measures by its value.

    Parameters
    ----------
    expr : SymPy expression or Matrix
        A functional, a first variation, a Lions derivative (entry by entry), ...
    measures : dict
        ``{measure: (atoms, weights)}`` or ``{measure: atoms}`` (uniform weights)
        for each :class:`~mfderive.Measure` or :class:`~mfderive.Data` to evaluate, or
        ``{measure: Density(expr, bounds)}`` for a measure with a density.  A signed
        measure (``mf.Measure(..., signed=True)``) needs ``(atoms, weights)``, weights of
        any sign and mass.

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
    # carry out derivatives first: once atoms are substituted for a bound variable t,
    # d/dt of an expression in t would be a derivative with respect to a number
    if expr.has(sp.Derivative):
        expr = expr.replace(lambda e: isinstance(e, sp.Derivative), lambda e: e.doit())
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
        if isinstance(M, SignedMeasure):
            table[M] = _signed(spec, M)
        else:
            table[M] = spec.check(M) if isinstance(spec, Density) else discrete_measure(spec, M)
    return _eval(expr, table)


def _signed(spec, M):
    """The checked atoms and weights (or density) of the signed measure ``M``: weights
    finite and real, of any sign and mass, and given (no uniform default)."""
    if isinstance(spec, Density):
        spec.box(M)  # one (low, high) per variable; the density may take either sign
        return spec
    # discrete_measure reads a pair (atoms, weights) so, and anything else as bare atoms
    if not (isinstance(spec, tuple) and len(spec) == 2 and not _is_row(spec)):
        raise EvaluationError(
            f"{M.name!r} is a signed measure: give its weights, {{{M.name}: (atoms, weights)}} "
            f"(bare atoms would mean the weights 1/N of a probability measure)"
        )
    return discrete_measure(spec, M)


def _no_entropy_of_signed(e: LocalIntegral, g) -> None:
    """Refuse the entropy / relative entropy (a log of the density) of a signed measure."""
    M = e.measure
    if isinstance(M, SignedMeasure) and any(
        f.func.__name__ == M.name for lg in g.atoms(sp.log) for f in lg.atoms(AppliedUndef)
    ):
        raise EvaluationError(
            f"{sp.sstr(e)} takes the log of the density of the signed measure {M.name!r}: the "
            f"entropy and relative entropy are defined for probability measures only"
        )


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
                _no_entropy_of_signed(e, g)
                # every density in L (the integral's own and, for several species, the
                # others') is replaced by its Density from the table
                dens = {N.name: (N, d) for N, d in table.items() if isinstance(d, Density)}
                left = {f.func.__name__ for f in g.atoms(AppliedUndef)
                        if f.func.__name__ in {N.name for N in table} and f.func.__name__ not in dens}
                if left:
                    raise InfiniteValueError(
                        f"{sp.sstr(e)} is a local functional of the density of "
                        f"{', '.join(sorted(left))}, given as a discrete measure (atoms), which has "
                        f"no density; give a Density for it"
                    )
                g = g.replace(
                    lambda f: isinstance(f, AppliedUndef) and f.func.__name__ in dens,
                    lambda f: dens[f.func.__name__][1].at(dens[f.func.__name__][0], f.args),
                ).doit()
                return _integrate(g, limits)
            return _integrate(g * spec.at(M, e.over), limits)
        if isinstance(e, LocalIntegral):
            _no_entropy_of_signed(e, g)
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
