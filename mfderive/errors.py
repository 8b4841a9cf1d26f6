"""The documented error types of mfderive.

Every error the library raises on bad input is an :class:`MfDeriveError`.  Each
type also derives from the built-in exception a Python user would expect
(``TypeError`` for an object of the wrong kind, ``ValueError`` for a value that
is out of range), so ``except ValueError`` keeps working.
"""

from __future__ import annotations

__all__ = [
    "MfDeriveError",
    "NotSympyError",
    "NotAMeasureError",
    "InvalidPointError",
    "InvalidVariablesError",
    "NotDifferentiableError",
    "InfiniteValueError",
    "EvaluationError",
]


class MfDeriveError(Exception):
    """Base class of every error mfderive raises on bad input."""


class NotSympyError(MfDeriveError, TypeError):
    """An argument that should be a SymPy expression is not one (nor sympifiable)."""


class NotAMeasureError(MfDeriveError, TypeError):
    """An argument that should be a :class:`~mfderive.Measure` (or ``Data``) is not one,
    or a fixed ``Data`` measure was given where a differentiable ``Measure`` is needed."""


class InvalidPointError(MfDeriveError, ValueError):
    """A point has the wrong number of coordinates, or a coordinate is not SymPy."""


class InvalidVariablesError(MfDeriveError, ValueError):
    """Integration variables (``over=``) or measure variables are malformed:
    not symbols, repeated, of the wrong number, or owned by another measure."""


class NotDifferentiableError(MfDeriveError, ValueError):
    """The functional has no first variation of the requested kind where asked,
    e.g. the density of a measure evaluated at a point outside a local integral
    (its variation is a Dirac distribution, not a function)."""


class InfiniteValueError(MfDeriveError, ValueError):
    """The value asked for is +infinity, e.g. the entropy of a discrete measure."""


class EvaluationError(MfDeriveError, ValueError):
    """``evaluate`` got atoms/weights of the wrong shape or kind."""
