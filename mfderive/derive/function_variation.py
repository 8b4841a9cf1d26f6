r"""The :math:`L^2(\rho)` variation of a functional in a function :math:`H`.

In the :math:`(\rho,H)` formulation of Fernández-Real & Figalli (2022, §2.3) an energy
:math:`G(\rho, H)` depends on a measure :math:`\rho` and on a function :math:`H` that
appears pointwise under integrals against :math:`\rho`.  Its variation in :math:`H` is
the :math:`L^2(\rho)` gradient: the function :math:`\frac{\delta G}{\delta H}` with

.. math:: \int \frac{\delta G}{\delta H}(y)\,\varphi(y)\,\rho(dy)
          = \frac{d}{d\varepsilon}\Big|_0 G(\rho, H+\varepsilon\varphi)
          \quad\text{for every test function }\varphi .

By the chain rule over integral atoms (:mod:`mfderive.derive.chain`), an atom
:math:`\int g(\xi, H(\xi))\,\rho(d\xi)` contributes :math:`\partial_h g(y, H(y))`, plus the
chain rule through any integrals nested in :math:`g`; an atom against another measure
contributes only through its nested atoms.  :math:`H` evaluated anywhere else (at a fixed
point, or differentiated) has no :math:`L^2(\rho)` gradient that is a function, and is
refused.
"""

from __future__ import annotations

import sympy as sp
from sympy.core.function import AppliedUndef, UndefinedFunction

from ..errors import NotDifferentiableError, NotSympyError
from .atoms import BoundIntegral, LocalIntegral, substitute
from .chain import chain_rule, put_back, rebuild_integral
from .measures import Measure, as_sympy, check_differentiable_measure, check_names
from .nonsmooth import ae_clean
from .points import at_point, working_point

__all__ = ["function_variation"]


def _check_function(H):
    if not isinstance(H, UndefinedFunction):
        raise NotSympyError(
            f"H must be an undefined SymPy function such as sp.Function('H'), got {H!r}"
        )
    return H


def _h_variation(expr, H, rho: Measure, y, allowed=frozenset()) -> sp.Expr:
    def pointwise(e):
        for D in e.atoms(sp.Derivative):
            if isinstance(D.expr, AppliedUndef) and D.expr.func == H:
                raise NotDifferentiableError(
                    f"{D} (a derivative of {H}) appears in {sp.sstr(expr)}; the L^2("
                    f"{rho.name}) variation in {H} of derivative terms needs an "
                    f"integration by parts against {rho.name} and is not supported"
                )
        bad = {f for f in e.atoms(AppliedUndef) if f.func == H and f not in allowed}
        if bad:
            f = sorted(bad, key=sp.default_sort_key)[0]
            raise NotDifferentiableError(
                f"{f} appears outside an integral against {rho.name!r} over its own "
                f"variable (in {sp.sstr(expr)}); its L^2({rho.name}) variation is a Dirac "
                f"distribution, not a function"
            )

    return chain_rule(expr, lambda A: _h_atom(A, H, rho, y), pointwise)


def _h_atom(A: BoundIntegral, H, rho: Measure, y) -> sp.Expr:
    if isinstance(A, LocalIntegral):
        return rebuild_integral(_h_variation(A.integrand, H, rho, y), A)
    g = A.integrand
    if A.measure != rho:
        return rebuild_integral(_h_variation(g, H, rho, y), A)
    h_here = H(*A.over)
    chain = rebuild_integral(_h_variation(g, H, rho, y, allowed={h_here}), A)
    d = sp.Dummy("h", real=True)
    local_part = put_back(ae_clean(g.xreplace({h_here: d}).diff(d)), {d: h_here})
    return chain + substitute(local_part, dict(zip(A.over, y)))


def function_variation(G, H, rho, at) -> sp.Expr:
    r"""The :math:`L^2(\rho)` variation :math:`\frac{\delta G}{\delta H}(\rho, H)(y)`.

    The unique function with
    :math:`\langle \frac{\delta G}{\delta H}, \varphi\rangle_{L^2(\rho)}
    = \frac{d}{d\varepsilon}\big|_0 G(\rho, H+\varepsilon\varphi)`
    (Fernández-Real & Figalli 2022, footnote 9).
    ``H`` (an undefined SymPy function of ``rho``'s variables) may appear pointwise in
    integrals against ``rho`` and inside any nested integrals.

    >>> import sympy as sp, mfderive as mf
    >>> th = sp.Symbol("theta"); rho = mf.Measure("rho", (th,)); H = sp.Function("H")
    >>> G = mf.integral(th * H(th)**2, rho) / 2
    >>> mf.function_variation(G, H, rho, at=rho.point("y"))
    y*H(y)
    """
    G = as_sympy(G, "the functional G")
    H = _check_function(H)
    rho = check_differentiable_measure(rho, "rho")
    check_names([G], [rho])
    point, ys = working_point(at, rho, [G])
    return at_point(_h_variation(G, H, rho, ys), ys, point)
