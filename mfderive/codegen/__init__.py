r"""codegen — SymPy → JAX: a derived expression becomes a jitted function on particles or a grid.

Each node of the expression is evaluated by a method chosen from its class (SymPy's
``Printer._print`` → ``_print_<Class>`` pattern), and each capability is a subclass, so
that every import runs downhill: ``axes`` ← ``evaluator`` ← ``contract`` ← ``densities`` (with
``convolution``) ← ``compiler`` (with ``linearity``).

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
``convolution``   :math:`\int W(x - y)\,m(y)\,dy` on a grid by zero-padded FFT when the integrand is
                  provably a function of :math:`x - y` (:func:`~mfderive.codegen.convolution.kernel_of`), dense otherwise
``linearity``     :func:`~mfderive.codegen.linearity.merge_integrals`: :math:`\sum_k n_k C\int c_k G\,d\mu = C\int(\sum_k n_k c_k)G\,d\mu`,
                  one column per pair factor :math:`G` in the contractions
``compiler``      :func:`compile`: argument checks, the measures' arrays, points (in blocks
                  with ``chunk_size``)
================  ==========================================================================

(There is deliberately no module named ``compile``: it would shadow :func:`mfderive.compile`.)
"""

from ..errors import CompileError
from .compiler import compile

__all__ = ["compile", "CompileError"]
