r"""mfderive: symbolic calculus on measures for the mean-field theory of training.

One package per stage, each importing only the ones before it: ``derive`` → ``flows`` →
``codegen`` → ``simulate`` → ``publish``, with ``errors``, ``grids`` and ``checks`` shared
(``docs/architecture.md``; each package's ``__init__`` lists its modules).

The symbolic stages, ``derive`` and ``flows`` (SymPy):

* :class:`Measure`, :class:`Data` — what functionals are functionals of;
* :func:`integral`, :func:`local`, :func:`entropy`, :func:`relative_entropy` — the atoms;
* :func:`first_variation`, :func:`second_variation`, :func:`lions_derivative`,
  :func:`function_variation` — the calculus;
* :func:`evaluate` — integrals against discrete measures or densities, for checks;
* :func:`canonical`, :func:`equivalent` — structural comparison;
* flows: :class:`WassersteinFlow` (gradient flow, MFLD), :class:`RhoHFlow`,
  :class:`UnbalancedFlow`, each with ``.pde()`` and ``.dissipation()``;
* identities: :func:`dissipation_identity` (``.verify()`` proves it up to a total
  divergence), :func:`gibbs` (Hu, Ren, Šiška & Szpruch 2021, Prop. 6),
  :class:`MomentHierarchy` (Fernández-Real & Figalli 2022, Lemma 3.2),
  :func:`stationary_gap` (ibid., (4.5), (4.8)).

The numeric stages, ``codegen`` and ``simulate`` (JAX, loaded on first use):
:func:`compile` (particles, or grids with :class:`Grid`), and simulators returning
``(init, step, observe)`` for :func:`run`:
:func:`particle_flow`, :func:`grid_flow` (finite volumes), :func:`entropic_jko`,
:func:`birth_death_flow` (WFR), :func:`ascent_descent` (:class:`ZeroSumGame`),
:func:`rho_h_flow`, :func:`rho_h_grid_flow` ((ρ,H) separated/transported on a grid),
:func:`gradient_descent`, :func:`proximal_point`, :func:`exact_gradient_flow`
(:class:`EuclideanFlow` on ℝᵈ); observables :func:`w2` (and :func:`w2_1d`,
:func:`w2_gaussian`, :func:`w2_to_grid`), :func:`nash_gap`; assumption checks
:func:`dissipativity`, :func:`lions_derivative_bounds`.  Measures may be signed
(``Measure(..., signed=True)``) or live on :class:`Sphere` × :class:`Reals`.  The particle
simulators split their particles over devices with ``sharding=`` (:func:`particle_mesh`).

Every error raised on bad input is an :class:`MfDeriveError` (see :mod:`mfderive.errors`).
"""

from .derive.canonical import canonical, equivalent
from .derive.densities import Density
from .derive.euler import euler_operator
from .derive.evaluate import evaluate
from .derive.integrals import (
    LocalIntegral,
    MeasureIntegral,
    entropy,
    integral,
    local,
    relative_entropy,
)
from .derive.lions import lions_derivative
from .derive.domains import Domain, Euclidean, Reals, Sphere, sphere_times_line
from .derive.measures import Data, Measure, SignedMeasure
from .derive.nonsmooth import relu_convention
from .derive.variation import first_variation, function_variation, second_variation
from .errors import (
    CompileError,
    EvaluationError,
    GridError,
    InfiniteValueError,
    InvalidExpressionError,
    InvalidOptionError,
    InvalidPointError,
    InvalidVariablesError,
    MeasureNameClashError,
    MfDeriveError,
    MissingDependencyError,
    NoParticleReadingError,
    NotAFlowError,
    NotAMeasureError,
    NotDifferentiableError,
    NotSympyError,
    SimulationError,
    SimulationInputError,
    StepSizeError,
    UnsafeInputError,
)
from .flows.assumptions import AssumptionReport, dissipativity
from .flows.euclidean import EuclideanFlow
from .flows.games import ZeroSumGame
from .flows.gibbs import GaussianFixedPoint, GibbsFixedPoint, gibbs
from .flows.hierarchy import MomentHierarchy
from .flows.identities import DissipationIdentity, Verification, dissipation_identity
from .flows.rho_h import RhoHFlow
from .flows.stationary import StationaryGap, stationary_gap
from .flows.unbalanced import UnbalancedFlow
from .flows.wasserstein import WassersteinFlow, WassersteinSystem
from .grids import Grid


def _version() -> str:
    """The installed distribution's version (pyproject.toml is the one place it is set)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mfderive")
    except PackageNotFoundError:  # a source tree on sys.path, not installed
        return "0+unknown"


__version__ = _version()

# The numeric layers (JAX) load on first use, so that symbolic work does not import JAX.
_LAZY = {
    "compile": ("codegen.compiler", "compile"),
    "particle_flow": ("simulate.particles", "particle_flow"),
    "run": ("simulate.loop", "run"),
    "rho_h_particle_field": ("simulate.rho_h", "rho_h_particle_field"),
    "rho_h_flow": ("simulate.rho_h", "rho_h_flow"),
    "grid_flow": ("simulate.finite_volume", "grid_flow"),
    "birth_death_flow": ("simulate.birth_death", "birth_death_flow"),
    "ascent_descent": ("simulate.ascent_descent", "ascent_descent"),
    "entropic_jko": ("simulate.jko", "entropic_jko"),
    "lifted_gradient_flow": ("simulate.particles", "lifted_gradient_flow"),
    "rho_h_grid_flow": ("simulate.rho_h_grid", "rho_h_grid_flow"),
    "RhoHGridState": ("simulate.rho_h_grid", "RhoHGridState"),
    "gradient_descent": ("simulate.euclidean", "gradient_descent"),
    "proximal_point": ("simulate.euclidean", "proximal_point"),
    "exact_gradient_flow": ("simulate.euclidean", "exact_gradient_flow"),
    "w2": ("simulate.transport", "w2"),
    "w2_1d": ("simulate.transport", "w2_1d"),
    "w2_gaussian": ("simulate.transport", "w2_gaussian"),
    "w2_to_grid": ("simulate.transport", "w2_to_grid"),
    "sinkhorn_divergence": ("simulate.transport", "sinkhorn_divergence"),
    "nash_gap": ("simulate.nash", "nash_gap"),
    "NashGap": ("simulate.nash", "NashGap"),
    "lions_derivative_bounds": ("simulate.assumptions", "lions_derivative_bounds"),
    "particle_mesh": ("simulate.sharding", "particle_mesh"),
}


# Where the modules of the flat layout (before the stage packages) live now, so that
# ``mf.fields.is_zero`` or ``mf.stationary.on_measure`` keep working.
_MOVED = {
    "measures": "derive.measures", "integrals": "derive.integrals",
    "variation": "derive.variation", "lions": "derive.lions", "canonical": "derive.canonical",
    "fields": "derive.euler", "nonsmooth": "derive.nonsmooth",
    "games": "flows.games", "identities": "flows.identities", "gibbs": "flows.gibbs",
    "hierarchy": "flows.hierarchy", "stationary": "flows.stationary",
    "finite_volume": "simulate.finite_volume", "jko": "simulate.jko",
    "birth_death": "simulate.birth_death", "game_particles": "simulate.ascent_descent",
    "rho_h_particles": "simulate.rho_h", "report": "publish.report",
}


def __getattr__(name):
    if name in _MOVED:
        import importlib

        return importlib.import_module(f".{_MOVED[name]}", __name__)
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
    # domains and signed measures (ReLU parameterisations)
    "Domain",
    "Euclidean",
    "Reals",
    "Sphere",
    "sphere_times_line",
    "SignedMeasure",
    "lifted_gradient_flow",
    # flows on R^d, coupled flows, assumptions
    "EuclideanFlow",
    "gradient_descent",
    "proximal_point",
    "exact_gradient_flow",
    "WassersteinSystem",
    "dissipativity",
    "AssumptionReport",
    "lions_derivative_bounds",
    # (rho, H) on a grid, W2, games
    "rho_h_grid_flow",
    "RhoHGridState",
    "w2",
    "w2_1d",
    "w2_gaussian",
    "w2_to_grid",
    "sinkhorn_divergence",
    "nash_gap",
    "NashGap",
    "MissingDependencyError",
    # distributed particles (sharding= of the particle simulators)
    "particle_mesh",
]
