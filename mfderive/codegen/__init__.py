r"""codegen — SymPy → JAX: a derived expression becomes a jitted function on particles or a grid.

Each node of the expression is evaluated by a method chosen from its class (SymPy's
``Printer._print`` → ``_print_<Class>`` pattern), and each capability is a subclass, so
that every import runs downhill: ``axes`` ← ``evaluator`` ← ``contract`` ← ``densities``
← ``compiler``.

================  ==========================================================================
module            what it holds
================  ==========================================================================
``axes``          named axes: a value on several sets of atoms as one broadcastable array
``evaluator``     :class:`~mfderive.codegen.evaluator.Evaluator`: dispatch on ``type(e).__mro__`` to ``_ev_<Class>``,
                  arithmetic, powers, ``Piecewise``, the table of functions, parameters,
                  common subexpressions (the cache key)
``contract``      :class:`~mfderive.codegen.contract.MeasureEvaluator`: :math:`\int g\,d\mu = \sum_a w_a g(\xi_a)` by
                  contraction, sibling integrals and bilinear sums as matrix products,
                  chunking in ``lax.scan``
``densities``     :class:`~mfderive.codegen.densities.GridEvaluator`: densities on grids, finite-difference derivatives,
                  local functionals as midpoint sums
``compiler``      :func:`compile`: argument checks, the measures' arrays, points (in blocks
                  with ``chunk_size``)
================  ==========================================================================

(There is deliberately no module named ``compile``: it would shadow :func:`mfderive.compile`.)
"""

from ..errors import CompileError
from .compiler import compile

__all__ = ["compile", "CompileError"]
