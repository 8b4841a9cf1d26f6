r"""The chain rule over integral atoms, shared by every variation.

A functional is a SymPy expression :math:`e(A_1,\dots,A_k)` of integral atoms, so its
variation in any object (a measure, a function :math:`H`) is

.. math:: \delta e = \sum_i \frac{\partial e}{\partial A_i}\,\delta A_i ,

with each :math:`A_i` replaced by a placeholder symbol while :math:`\partial e/\partial A_i`
is taken (a.e. derivatives for non-smooth functions, :mod:`mfderive.derive.nonsmooth`).
:func:`chain_rule` does this for the outermost atoms and leaves :math:`\delta A_i` to the
caller (:mod:`mfderive.derive.variation`, :mod:`mfderive.derive.function_variation`);
:func:`rebuild_integral` puts a varied integrand back under its integral sign.
"""

from __future__ import annotations

from collections.abc import Callable

import sympy as sp

from .atoms import BoundIntegral, MeasureIntegral, integral_atoms
from .measures import Measure
from .nonsmooth import ae_clean

__all__ = ["chain_rule", "integral_derivatives_done", "put_back", "rebuild_integral"]


def put_back(expr, back: dict):
    """Put the atoms back in place of their placeholders (``subs`` where a placeholder
    is a differentiation variable, so that SymPy writes a ``Subs`` object)."""
    if expr.has(sp.Derivative, sp.Subs):
        return expr.subs(back)
    return expr.xreplace(back)


def integral_derivatives_done(expr) -> sp.Expr:
    r"""``expr`` with every ``Derivative`` of an expression containing integrals carried
    out (under the integral sign, :meth:`BoundIntegral._eval_derivative`).

    An unevaluated :math:`\partial_t\int g(\xi,t)\,\mu(d\xi)` hides the integral from the
    chain rule (its placeholder would not depend on :math:`t`), which would lose the
    variation of the integral when :math:`t` is itself bound by an outer integral.
    """
    if not expr.has(sp.Derivative):
        return expr
    return expr.replace(
        lambda e: isinstance(e, sp.Derivative) and e.expr.has(BoundIntegral),
        lambda e: e.doit(deep=False),
    )


def chain_rule(expr, d_atom: Callable, check_pointwise: Callable) -> sp.Expr:
    """Σ_A ∂expr/∂A · d_atom(A) over the outermost integral atoms A of ``expr``.

    ``check_pointwise(e)`` inspects ``expr`` with its atoms replaced by placeholders
    and raises when it depends pointwise on the differentiated object.  Derivatives of
    non-smooth functions are their a.e. derivatives (:mod:`mfderive.derive.nonsmooth`).
    """
    expr = integral_derivatives_done(expr)
    atoms = integral_atoms(expr)
    place = {A: sp.Dummy(f"A{i}", real=True) for i, A in enumerate(atoms)}
    e = expr.xreplace(place) if atoms else expr
    check_pointwise(e)
    back = {d: A for A, d in place.items()}
    total = sp.S.Zero
    for A, d in place.items():
        outer = ae_clean(e.diff(d))
        if outer == 0:
            continue
        dA = d_atom(A)
        if dA == 0:
            continue
        total += put_back(outer, back) * dA
    return total


def rebuild_integral(g, A: BoundIntegral):
    """Rebuild an integral of the same kind, measure and variables with integrand g."""
    if g == 0:
        return sp.S.Zero
    if (
        isinstance(A, MeasureIntegral)
        and isinstance(A.measure, Measure)
        and not (g.free_symbols & set(A.over))
    ):
        return g  # a probability measure has mass one
    return A.func(g, A.measure, A.over)
