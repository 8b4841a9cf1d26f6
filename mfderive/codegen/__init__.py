r"""codegen — SymPy → JAX: a derived expression becomes a jitted function on particles or a grid.

================  ==========================================================================
module            what it holds
================  ==========================================================================
``compiler``      :func:`compile`: named axes per integral, common subexpressions, BLAS
                  contractions, chunking, the grid backend (midpoint rule, finite differences)
================  ==========================================================================

(There is deliberately no module named ``compile``: it would shadow :func:`mfderive.compile`.)
"""

from ..errors import CompileError
from .compiler import compile

__all__ = ["compile", "CompileError"]
