r"""derive — SymPy calculus on measures (never imports JAX).

=================  =========================================================================
module             mathematics
=================  =========================================================================
``measures``       :class:`Measure` :math:`\mu` over named variables, fixed :class:`Data` :math:`\nu`
``integrals``      the atoms :math:`\int g\,d\mu` and :math:`\int L(\xi, m, \nabla m)\,d\xi`
``variation``      first and second variations :math:`\frac{\delta F}{\delta\mu}`,
                   :math:`\frac{\delta^2 F}{\delta\mu^2}`; the :math:`L^2(\rho)` variation in :math:`H`
``lions``          the Lions derivative :math:`D_\mu F = \nabla_y \frac{\delta F}{\delta\mu}`
``nonsmooth``      a.e. derivatives of ``Abs``, ``Max``, ``floor``…; kinks
``euler``          gradient, divergence, the Euler operator; deciding identities
``canonical``      a canonical form of expressions with bound variables
``discrete``       discrete measures (atoms, weights), checked
``densities``      :class:`Density`: a measure with a density on a box, checked
``evaluate``       integrals against discrete measures or densities, for checks
=================  =========================================================================
"""
