r"""mfderive: symbolic calculus on measures for the mean-field theory of training.

The derive layer (SymPy):

* :class:`Measure`, :class:`Data` — what functionals are functionals of;
* :func:`integral`, :func:`local`, :func:`entropy`, :func:`relative_entropy` — the atoms;
* :func:`first_variation`, :func:`second_variation`, :func:`lions_derivative`,
  :func:`function_variation` — the calculus;
* :func:`evaluate` — integrals against discrete measures or densities, for checks;
* :func:`canonical`, :func:`equivalent` — structural comparison;
* flows: :class:`WassersteinFlow` (gradient flow, MFLD), :class:`RhoHFlow`,
  :class:`UnbalancedFlow`, each with ``.pde()`` and ``.dissipation()``;
* identities: :func:`dissipation_identity` (``.verify()`` proves it up to a total
  divergence), :func:`gibbs` (Prop. 6), :class:`MomentHierarchy` (Lemma 3.2),
  :func:`stationary_gap` ((4.5), (4.8)).

The numeric layers (JAX, loaded on first use): :func:`compile` (particles, or grids with
:class:`Grid`), and simulators returning ``(init, step, observe)`` for :func:`run`:
:func:`particle_flow`, :func:`grid_flow` (finite volumes), :func:`entropic_jko`,
:func:`birth_death_flow` (WFR), :func:`ascent_descent` (:class:`ZeroSumGame`),
:func:`rho_h_flow`.

Every error raised on bad input is an :class:`MfDeriveError` (see :mod:`mfderive.errors`).
"""

from .canonical import canonical, equivalent
from .errors import (
    EvaluationError,
    InfiniteValueError,
    InvalidExpressionError,
    InvalidOptionError,
    InvalidPointError,
    InvalidVariablesError,
    MeasureNameClashError,
    MfDeriveError,
    NotAFlowError,
    NotAMeasureError,
    NotDifferentiableError,
    NotSympyError,
    SimulationInputError,
    UnsafeInputError,
)
from .evaluate import Density, evaluate
from .flows import NoParticleReadingError, RhoHFlow, UnbalancedFlow, WassersteinFlow
from .games import ZeroSumGame
from .gibbs import GaussianFixedPoint, GibbsFixedPoint, gibbs
from .hierarchy import MomentHierarchy
from .identities import DissipationIdentity, Verification, dissipation_identity
from .stationary import StationaryGap, stationary_gap
from .integrals import LocalIntegral, MeasureIntegral, entropy, integral, local, relative_entropy
from .lions import lions_derivative
from .nonsmooth import relu_convention
from .measures import Data, Measure
from .fields import euler_operator
from .grids import Grid, GridError
from .variation import first_variation, function_variation, second_variation

__version__ = "0.1.0"

# The numeric layers (JAX) load on first use, so that symbolic work does not import JAX.
_LAZY = {
    "compile": ("codegen", "compile"),
    "CompileError": ("codegen", "CompileError"),
    "particle_flow": ("simulate", "particle_flow"),
    "run": ("simulate", "run"),
    "rho_h_particle_field": ("rho_h_particles", "rho_h_particle_field"),
    "rho_h_flow": ("rho_h_particles", "rho_h_flow"),
    "SimulationError": ("simulate", "SimulationError"),
    "StepSizeError": ("simulate", "StepSizeError"),
    "grid_flow": ("finite_volume", "grid_flow"),
    "birth_death_flow": ("birth_death", "birth_death_flow"),
    "ascent_descent": ("game_particles", "ascent_descent"),
    "entropic_jko": ("jko", "entropic_jko"),
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(f".{module}", __name__), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mfderive' has no attribute {name!r}")

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
    "Density",
    "WassersteinFlow",
    "RhoHFlow",
    "UnbalancedFlow",
    "dissipation_identity",
    "DissipationIdentity",
    "Verification",
    "gibbs",
    "GibbsFixedPoint",
    "GaussianFixedPoint",
    "MomentHierarchy",
    "stationary_gap",
    "StationaryGap",
    "NoParticleReadingError",
    "compile",
    "CompileError",
    "particle_flow",
    "run",
    "rho_h_particle_field",
    "rho_h_flow",
    "SimulationError",
    "Grid",
    "GridError",
    "grid_flow",
    "birth_death_flow",
    "ZeroSumGame",
    "ascent_descent",
    "entropic_jko",
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
    "InvalidExpressionError",
    "InvalidOptionError",
    "MeasureNameClashError",
    "NotAFlowError",
    "UnsafeInputError",
    "SimulationInputError",
    "StepSizeError",
    "relu_convention",
]
