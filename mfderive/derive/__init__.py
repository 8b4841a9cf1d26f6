r"""derive — SymPy calculus on measures (never imports JAX).

========================  ====================================================================
module                    mathematics
========================  ====================================================================
``measures``              :class:`Measure` :math:`\mu` over named variables (probability, or
                          signed with ``signed=True``), fixed :class:`Data` :math:`\nu`
``domains``               :math:`\mathbb R^d`, spheres :math:`S^{n-1}` and products: the tangent
                          projection (Riemannian gradient) :math:`I-\theta\theta^\top`
``atoms``                 the integral atoms :math:`\int g\,d\mu` and :math:`\int L\,d\xi` with
                          bound variables; capture-avoiding substitution
``integrals``             :func:`integral`, validated (and the path the other stages import
                          the atoms from)
``local_functionals``     :math:`\int L(\xi, m, \nabla m)\,d\xi`: :func:`local`, the entropy,
                          the relative entropy
``points``                where a variation is taken; averages :math:`\int V\,d\mu`
``chain``                 the chain rule over integral atoms, shared by every variation
``variation``             first and second variations :math:`\frac{\delta F}{\delta\mu}`,
                          :math:`\frac{\delta^2 F}{\delta\mu^2}`
``function_variation``    the :math:`L^2(\rho)` variation :math:`\frac{\delta G}{\delta H}` in a
                          function :math:`H`
``lions``                 the Lions derivative :math:`D_\mu F = \nabla_y \frac{\delta F}{\delta\mu}`
                          (projected on a sphere factor)
``nonsmooth``             a.e. derivatives of ``Abs``, ``Max``, ``floor``…; kinks
``euler``                 gradient, divergence, the Euler operator; deciding identities
``canonical``             a canonical form of expressions with bound variables
``discrete``              discrete measures (atoms, weights), checked
``densities``             :class:`Density`: a measure with a density on a box, checked
``evaluate``              integrals against discrete measures or densities, for checks
========================  ====================================================================
"""
