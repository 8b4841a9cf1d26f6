r"""Nonlocal terms at a point become unknown functions, and back.

A flow's PDE and its dissipation are pointwise expressions at a point :math:`y` in the
densities, the function :math:`H(y)`, their derivatives, and nonlocal terms such as
:math:`\int W(y,z)\,\mu(dz)` evaluated at :math:`y`.  :class:`Localizer` replaces each
nonlocal term that depends on :math:`y` by an unknown function :math:`N_k(y)` (and back),
so that identities become statements about differential polynomials in unknown functions
of :math:`y`, to which the Euler operator applies.
"""

from __future__ import annotations

import sympy as sp
from sympy.core.function import AppliedUndef

from ..derive.integrals import integral_atoms

__all__ = ['Localizer']


class Localizer:
    """Replace the nonlocal terms of expressions at the point ``y`` by ``N_k(y)``.

    One localizer is shared by all expressions of a flow, so that the same nonlocal
    term always becomes the same unknown function.
    """

    def __init__(self, y, prefix: str = "N"):
        self.y = tuple(y)
        self.prefix = prefix
        self.terms: dict[AppliedUndef, sp.Expr] = {}  # N_k(y) -> integral atom
        self._index: dict[sp.Expr, AppliedUndef] = {}

    def local(self, expr) -> sp.Expr:
        """``expr`` with every integral atom that depends on ``y`` replaced by ``N_k(y)``.

        Factors free of an integral's variables (``H(y)``, a coordinate of ``y``) are first
        pulled out by linearity, so that each ``N_k`` is as small as possible and equal
        nonlocal terms of different expressions get the same name."""
        from ..derive.canonical import canonical

        expr = canonical(expr, rename=False)
        rep = {}
        ys = set(self.y)
        for A in integral_atoms(expr):
            if not (A.free_symbols & ys):
                continue
            if A not in self._index:
                N = sp.Function(f"{self.prefix}{len(self._index) + 1}", real=True)(*self.y)
                self._index[A] = N
                self.terms[N] = A
            rep[A] = self._index[A]
        return expr.xreplace(rep) if rep else expr

    def nonlocal_(self, expr) -> sp.Expr:
        """Put the integral atoms back (derivatives of ``N_k`` become integrals of the
        differentiated integrand)."""
        if not self.terms:
            return expr

        def is_nd(e):
            return isinstance(e, sp.Derivative) and e.expr in self.terms

        expr = expr.replace(is_nd, lambda D: self.terms[D.expr].diff(*D.variables))
        return expr.xreplace(self.terms)
