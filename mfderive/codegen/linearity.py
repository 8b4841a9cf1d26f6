r"""Linearity of the integral: sums of integrals sharing their pair factor become one integral.

A derived drift is typically a sum of integrals against the same measure whose integrands
differ only in a factor on the atoms: for the two-layer network with MSE loss,

.. math::

   y_w\int t\,x_k\,(1-\tanh^2(y_a\cdot x + y_b))\,\nu(dx\,dt)
   \;-\; y_w\int x_k f_\mu(x)\,(1-\tanh^2(y_a\cdot x + y_b))\,\nu(dx\,dt),

the expanded form of :math:`y_w\int x_k\,(t - f_\mu(x))\,\sigma'(\cdots)\,d\nu`.  Each
integrand splits as :math:`c(\xi)\,G(\xi, y)` (:func:`~.contract.split`: :math:`c` on the
atoms only, :math:`G` on the pairs of atoms and points); the contraction of the pair array
:math:`G` costs one column per distinct :math:`c`.  :func:`merge_integrals` applies

.. math::

   \sum_k n_k\, C\int c_k\,G\,d\nu \;=\; C\int \Big(\sum_k n_k c_k\Big)\,G\,d\nu

(:math:`n_k` numbers, :math:`C` the same factor outside every integral, free of the
integration variables because they are bound), which halves the columns of that product
in the example and leaves every other expression as it was.  Exact: only the order of
floating-point additions changes.

>>> import sympy as sp, mfderive as mf
>>> x, t, y = sp.symbols("x t y", real=True)
>>> nu = mf.Data("nu_lin", (x, t))
>>> e = y * mf.integral(t * sp.tanh(x * y), nu) - y * mf.integral(x * sp.tanh(x * y), nu)
>>> merge_integrals(e)
y*Int[(t - x)*tanh(x*y), nu_lin(d(x, t))]
"""

from __future__ import annotations

import sympy as sp

from ..derive.atoms import MeasureIntegral
from .contract import split

__all__ = ["merge_integrals"]


def merge_integrals(e: sp.Expr) -> sp.Expr:
    """``e`` with, in every sum, the integrals :math:`n_k C\\int c_k G\\,d\\mu` that share the
    measure, the variables, :math:`G` and the outside factor :math:`C` merged into one."""
    if not isinstance(e, sp.Basic) or e.is_Atom or not e.has(MeasureIntegral):
        return e
    args = tuple(merge_integrals(a) for a in e.args)
    if args != e.args:
        e = e.func(*args)
    return _merge_sum(e) if isinstance(e, sp.Add) else e


def _merge_sum(e: sp.Add) -> sp.Expr:
    buckets, order, rest = {}, [], []
    for term in e.args:
        num, tail = term.as_coeff_Mul()
        ints = [f for f in sp.Mul.make_args(tail) if isinstance(f, MeasureIntegral)]
        if len(ints) != 1:
            rest.append(term)
            continue
        (A,) = ints
        outside = sp.Mul(*[f for f in sp.Mul.make_args(tail) if f is not A])
        c, G = split(A.integrand, A.over)
        key = (A.measure, A.over, G, outside)
        if key not in buckets:
            order.append(key)
        buckets.setdefault(key, []).append((num, c, term))
    if all(len(v) == 1 for v in buckets.values()):
        return e
    merged = []
    for key in order:
        members = buckets[key]
        if len(members) == 1:
            merged.append(members[0][2])
            continue
        measure, over, G, outside = key
        c = sp.Add(*[n * ck for n, ck, _ in members])
        merged.append(outside * MeasureIntegral(c * G, measure, over) if c != 0 else sp.S.Zero)
    return sp.Add(*rest, *merged)
