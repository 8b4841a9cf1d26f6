r"""mfderive: symbolic calculus on measures for the mean-field theory of training.

The derive layer (SymPy):

* :class:`Measure`, :class:`Data` — what functionals are functionals of;
* :func:`integral`, :func:`local`, :func:`entropy`, :func:`relative_entropy` — the atoms;
* :func:`first_variation`, :func:`second_variation`, :func:`lions_derivative`,
  :func:`function_variation` — the calculus;
* :func:`evaluate` — integrals against discrete measures, for checks;
* :func:`canonical`, :func:`equivalent` — structural comparison.

Every error raised on bad input is an :class:`MfDeriveError` (see :mod:`mfderive.errors`).
"""

from .canonical import canonical, equivalent
from .errors import (
    EvaluationError,
    InfiniteValueError,
    InvalidPointError,
    InvalidVariablesError,
    MfDeriveError,
    NotAMeasureError,
    NotDifferentiableError,
    NotSympyError,
)
from .evaluate import evaluate
from .integrals import LocalIntegral, MeasureIntegral, entropy, integral, local, relative_entropy
from .lions import lions_derivative
from .measures import Data, Measure
from .fields import euler_operator
from .variation import first_variation, function_variation, second_variation

__version__ = "0.1.0"

__all__ = [
    "Measure",
    "Data",
    "integral",
    "local",
    "entropy",
    "relative_entropy",
    "MeasureIntegral",
    "LocalIntegral",
    "first_variation",
    "second_variation",
    "function_variation",
    "lions_derivative",
    "euler_operator",
    "evaluate",
    "canonical",
    "equivalent",
    "MfDeriveError",
    "NotSympyError",
    "NotAMeasureError",
    "InvalidPointError",
    "InvalidVariablesError",
    "NotDifferentiableError",
    "InfiniteValueError",
    "EvaluationError",
]
