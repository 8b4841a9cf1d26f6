r"""The nonlocal integral :math:`\int g(\xi)\,\mu(d\xi)`, validated.

:func:`integral` checks its integration variables (``over=``: one Symbol per variable of
the measure, in the measure's order, owned by no other measure) and refuses look-alike
symbols, then builds a :class:`~mfderive.derive.atoms.MeasureIntegral`; an integrand free
of the variables integrates against a probability :class:`~mfderive.Measure` to itself.

The atoms themselves live in :mod:`mfderive.derive.atoms` and the local functionals in
:mod:`mfderive.derive.local_functionals`; both are re-exported here, the path the other
stages import them from (``from ..derive.integrals import MeasureIntegral``).
"""

from __future__ import annotations

import sympy as sp

from ..errors import InvalidVariablesError
from .atoms import (
    BoundIntegral,
    LocalIntegral,
    MeasureIntegral,
    check_lookalikes,
    fresh_symbols,
    integral_atoms,
    substitute,
)
from .local_functionals import check_reference_density, entropy, local, relative_entropy
from .measures import (
    Measure,
    _MeasureBase,
    _unordered,
    as_sympy,
    check_measure,
    owners_of,
)

__all__ = [
    "BoundIntegral",
    "MeasureIntegral",
    "LocalIntegral",
    "integral",
    "local",
    "entropy",
    "relative_entropy",
    "check_reference_density",
    "integral_atoms",
    "fresh_symbols",
    "substitute",
]


def _check_over(over, measure: _MeasureBase) -> tuple[sp.Symbol, ...]:
    if over is None:
        return measure.variables
    if isinstance(over, sp.Symbol):
        over = (over,)
    if _unordered(over) or isinstance(over, (str, bytes)):
        raise InvalidVariablesError(
            f"over= must be an ordered tuple of {measure.dim} Symbols (the i-th integrates "
            f"against the i-th variable {measure.variables} of {measure.name!r}); got "
            f"{over!r}, which has no order"
        )
    try:
        over = tuple(over)
    except TypeError:
        raise InvalidVariablesError(
            f"over= must be a Symbol or a tuple of {measure.dim} Symbols, got {over!r}"
        ) from None
    if len(over) != measure.dim:
        raise InvalidVariablesError(
            f"over= has {len(over)} symbol(s) but {measure.name!r} has {measure.dim} "
            f"variable(s) {measure.variables}"
        )
    for v in over:
        if not isinstance(v, sp.Symbol):
            raise InvalidVariablesError(f"over= must hold SymPy Symbols; {v!r} is not one")
        owners = owners_of(v)
        if owners and measure._key not in owners:
            others = ", ".join(sorted({o[1] for o in owners}))
            raise InvalidVariablesError(
                f"over= symbol {v} belongs to {others}, not to {measure.name!r}; "
                f"integrate against {measure.name!r} over its own variables or a point "
                f"from {measure.name}.point(...)"
            )
    if len(set(over)) != len(over):
        raise InvalidVariablesError(f"over= repeats a symbol: {over}")
    own = measure.variables
    for i, v in enumerate(over):
        if v in own and own.index(v) != i:
            raise InvalidVariablesError(
                f"over={over} puts the variable {v} of {measure.name!r} in position {i}, "
                f"but it is variable {own.index(v)} of {own}: over= binds by position, so "
                f"this would integrate {v} against another coordinate. List the "
                f"measure's own variables in their order, or use a point from "
                f"{measure.name}.point(...)"
            )
    return over


def integral(expr, measure, over=None) -> sp.Expr:
    r""":math:`\int \mathrm{expr}\;d(\mathrm{measure})` over ``over`` (default: the
    measure's variables).

    Parameters
    ----------
    expr : SymPy expression (numbers are sympified)
        The integrand, a function of ``over`` and of any outer symbols.
    measure : Measure or Data
    over : Symbol or tuple of Symbols, optional
        The integration variables, one per variable of the measure; each must be one
        of the measure's variables, a coordinate of one of its points, or a symbol no
        measure owns.

    Returns
    -------
    A :class:`MeasureIntegral`.  For a probability :class:`~mfderive.Measure` an
    integrand that does not depend on ``over`` integrates to itself (mass one).

    Examples
    --------
    >>> import sympy as sp, mfderive as mf
    >>> w, x = sp.symbols("w x"); mu = mf.Measure("mu", (w,))
    >>> mf.integral(w * x, mu)
    Int[w*x, mu(d(w))]
    """
    expr = as_sympy(expr, "the integrand")
    measure = check_measure(measure)
    over = _check_over(over, measure)
    check_lookalikes(expr, over)
    if isinstance(measure, Measure) and not (expr.free_symbols & set(over)):
        return expr
    if expr == 0:
        return sp.S.Zero
    return MeasureIntegral(expr, measure, over)
