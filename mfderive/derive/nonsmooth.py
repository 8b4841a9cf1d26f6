r"""Derivatives of non-smooth functions: the a.e. derivative, and where it fails to exist.

Functionals built from :math:`|x|`, :math:`\max(0,x)` (ReLU), ``Min``, ``Piecewise``,
``sign``, ``Heaviside``, ``floor``, ``ceiling``, ``frac`` and ``Mod`` are differentiable
almost everywhere.  SymPy's ``diff`` returns a mixture for them: the a.e. derivative
(``sign``, ``Heaviside``, a ``Piecewise`` of derivatives), a distribution
(``DiracDelta`` for ``sign`` and ``Heaviside``), or an unevaluated
``Derivative(floor(x), x)``.  :func:`ae_diff` returns the a.e. derivative everywhere:

=========================  ========================================
function                   a.e. derivative in its argument
=========================  ========================================
``Abs(g)``                 ``sign(g)`` (SymPy's rule, kept)
``Max(0, g)``              ``Heaviside(g)`` (SymPy's rule, kept)
``sign``, ``Heaviside``    0 (SymPy would give a ``DiracDelta``)
``floor``, ``ceiling``     0
``frac(g)``                1
``Mod(g, c)``              1 (``c`` independent of the variable)
=========================  ========================================

The value of ``Heaviside(g)`` at :math:`g=0` (SymPy's second argument, 1/2 by default)
is a *convention*, not a derivative: the ReLU literature takes
:math:`\sigma'(0)=0`, i.e. ``Heaviside(g, 0)``; :func:`relu_convention` rewrites an
expression to it.  :func:`kinks` lists where each non-smooth function in an expression
is not differentiable, so that a derivative asked for *at a number* on a kink raises
:class:`~mfderive.NotDifferentiableError` instead of returning a conventional value.
"""

from __future__ import annotations

import sympy as sp

from ..errors import NotDifferentiableError

__all__ = ["ae_diff", "ae_clean", "kinks", "check_no_kink", "relu_convention"]

_ZERO_SLOPE = (sp.floor, sp.ceiling, sp.sign, sp.Heaviside)
_UNIT_SLOPE = (sp.frac,)


def _slope(f, var):
    """The a.e. derivative of ``f`` (an application of a non-smooth function) in ``var``,
    or None when ``f`` is not one of them."""
    if isinstance(f, _ZERO_SLOPE):
        return sp.S.Zero
    if isinstance(f, _UNIT_SLOPE):
        return sp.diff(f.args[0], var)
    if isinstance(f, sp.Mod) and not f.args[1].has(var):
        return sp.diff(f.args[0], var)
    return None


def ae_clean(expr) -> sp.Expr:
    """Replace distributions and unevaluated derivatives of piecewise-constant functions
    in ``expr`` by their a.e. values (see the table above)."""
    if not expr.has(sp.DiracDelta, sp.Derivative):
        return expr

    def is_nonsmooth_derivative(e):
        return (
            isinstance(e, sp.Derivative)
            and len(e.variable_count) == 1
            and e.variable_count[0][1] == 1
            and _slope(e.expr, e.variables[0]) is not None
        )

    out = expr.replace(lambda e: isinstance(e, sp.DiracDelta), lambda e: sp.S.Zero)
    out = out.replace(is_nonsmooth_derivative, lambda e: _slope(e.expr, e.variables[0]))
    return out.doit(deep=False) if out.has(sp.Subs) else out


def ae_diff(expr, var) -> sp.Expr:
    """``d expr / d var`` almost everywhere (see the module docstring)."""
    return ae_clean(sp.diff(expr, var))


def relu_convention(expr, value=0) -> sp.Expr:
    r"""``expr`` with every ``Heaviside(g, H0)`` replaced by ``Heaviside(g, value)``:
    the value of :math:`\sigma'(0)` for :math:`\sigma = \max(0,\cdot)` (0 in the ReLU
    literature; SymPy's default is 1/2).

    >>> import sympy as sp, mfderive as mf
    >>> x = sp.Symbol("x")
    >>> mf.relu_convention(sp.diff(sp.Max(0, x), x))
    Heaviside(x, 0)
    """
    return expr.replace(
        lambda e: isinstance(e, sp.Heaviside), lambda e: sp.Heaviside(e.args[0], value)
    )


def kinks(expr, variables) -> list[tuple[sp.Expr, sp.Expr, str]]:
    """``(f, g, kind)`` for each non-smooth application ``f`` in ``expr`` that depends on
    ``variables``: it is not differentiable where ``g = 0`` (``kind="zero"``) or where
    ``g`` is an integer (``kind="integer"``)."""
    variables = set(variables)
    out = []
    for f in sp.preorder_traversal(expr):
        if not isinstance(f, sp.Basic) or not (f.free_symbols & variables):
            continue
        if isinstance(f, (sp.Abs, sp.sign, sp.Heaviside, sp.DiracDelta)):
            out.append((f, f.args[0], "zero"))
        elif isinstance(f, (sp.Max, sp.Min)):
            args = f.args
            out += [(f, a - b, "zero") for i, a in enumerate(args) for b in args[i + 1:]]
        elif isinstance(f, (sp.floor, sp.ceiling, sp.frac)):
            out.append((f, f.args[0], "integer"))
        elif isinstance(f, sp.Mod):
            out.append((f, f.args[0] / f.args[1], "integer"))
        elif isinstance(f, sp.Piecewise):
            for _, cond in f.args:
                for rel in sp.preorder_traversal(cond):
                    if isinstance(rel, sp.core.relational.Relational):
                        out.append((f, rel.lhs - rel.rhs, "zero"))
    return out


def check_no_kink(expr, symbols, point, what="the derivative") -> None:
    """Raise :class:`NotDifferentiableError` when ``point`` (numbers, substituted for
    ``symbols``) lies on a kink of ``expr`` in those symbols."""
    mapping = dict(zip(symbols, point))
    for f, g, kind in kinks(expr, symbols):
        v = g.xreplace(mapping)
        if v.free_symbols or not v.is_number:
            continue
        v = sp.nsimplify(v) if v.is_Float else sp.simplify(v)
        on = v.is_zero if kind == "zero" else (v.is_integer is True)
        if on:
            at = ", ".join(f"{s} = {p}" for s, p in mapping.items())
            raise NotDifferentiableError(
                f"{what} does not exist at {at}: {sp.sstr(f)} has a kink there "
                f"({'its argument vanishes' if kind == 'zero' else 'its argument is an integer'}). "
                f"Ask at a symbolic point for the a.e. derivative, or move off the kink"
            )
