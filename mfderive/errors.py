"""The documented error types of mfderive.

Every error the library raises on bad input is an :class:`MfDeriveError`.  Each
type also derives from the built-in exception a Python user would expect
(``TypeError`` for an object of the wrong kind, ``ValueError`` for a value that
is out of range), so ``except ValueError`` keeps working.
"""

from __future__ import annotations

__all__ = [
    "CompileError",
    "GridError",
    "NoParticleReadingError",
    "SimulationError",
    "StepSizeError",

    "MfDeriveError",
    "NotSympyError",
    "NotAMeasureError",
    "InvalidPointError",
    "InvalidVariablesError",
    "NotDifferentiableError",
    "InfiniteValueError",
    "EvaluationError",
    "MeasureNameClashError",
    "InvalidExpressionError",
    "UnsafeInputError",
    "SimulationInputError",
    "InvalidOptionError",
    "NotAFlowError",
    "MissingDependencyError",
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


class MeasureNameClashError(MfDeriveError, ValueError):
    """Two different measures with one name meet where the name identifies them: two
    :class:`~mfderive.Measure` objects in one functional (their densities would be the
    same SymPy function), or two grid measures in one compiled function."""


class InvalidExpressionError(MfDeriveError, ValueError):
    """An expression the calculus has no meaning for: NaN or an infinity where a
    functional is expected, a measure used as a number, an expression nested too deeply
    to differentiate, or a non-finite / non-real point where a real one is needed."""


class UnsafeInputError(NotSympyError):
    """A string where a SymPy expression or symbol is expected.  mfderive never
    evaluates user strings (``sympify`` of a string runs ``eval``); build the expression
    with SymPy objects, or name parameters by their ``Symbol``."""


class SimulationInputError(MfDeriveError, ValueError):
    """A simulator got input it cannot run on: weights that are negative, non-finite or
    (for a probability measure) do not sum to one, arrays of the wrong shape or with NaN,
    a time step that is not a finite positive number, missing data for a fixed measure."""


class InvalidOptionError(MfDeriveError, ValueError):
    """A keyword option outside its allowed values (``normalize="no"``, an unknown
    ``variant=``, ...)."""


class NotAFlowError(MfDeriveError, TypeError):
    """A flow object of the wrong kind (``dissipation_identity`` of something that is not
    a flow, a particle simulator given a flow it cannot simulate)."""


class CompileError(MfDeriveError, ValueError):
    """An expression that cannot be compiled (an unknown function, a density or local
    functional of a measure without a grid, a free symbol that was not declared)."""


class GridError(MfDeriveError, ValueError):
    """A grid that does not make sense (an empty box, too few cells) or values of the
    wrong shape."""


class NoParticleReadingError(MfDeriveError, ValueError):
    """The flow has no particle (SDE/ODE) reading, e.g. a porous-medium term whose
    nonlinear diffusion needs the density itself."""


class SimulationError(MfDeriveError, FloatingPointError):
    """A simulation produced a non-finite value, or left the set where its scheme is valid
    (a negative density, an inner solve that did not converge)."""


class StepSizeError(SimulationError, SimulationInputError):
    """A time step above the stability limit of an explicit scheme, found at ``init``
    before any step is taken (the message gives the largest stable step)."""


class MissingDependencyError(MfDeriveError, ImportError):
    """An optional library a function needs is not installed (the message names the
    ``pip install`` that provides it, e.g. POT for optimal transport)."""
