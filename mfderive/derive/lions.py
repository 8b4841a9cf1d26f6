r"""The Lions (intrinsic, Wasserstein) derivative.

Carmona & Delarue (2018), in the form of Hu, Ren, Šiška & Szpruch (2021, Def. 2): when
:math:`\frac{\delta F}{\delta\mu}(\mu, y)` is :math:`C^1` in :math:`y`,

.. math:: D_\mu F(\mu, y) = \nabla_y \frac{\delta F}{\delta\mu}(\mu, y).

Their Lemma 1: :math:`\frac{d}{ds}\big|_{0^+} F((\mathrm{Id}+sb)_\#\mu)
= \int D_\mu F(\mu,y)\cdot b(y)\,\mu(dy)`; on an empirical measure
:math:`\mu_N=\frac1N\sum_i\delta_{\xi_i}` this makes :math:`N\nabla_{\xi_i}F(\mu_N)
= D_\mu F(\mu_N,\xi_i)`: the particle gradient is the Lions derivative.

On a measure over a manifold :math:`M` (``Measure(..., domain=Sphere(k) * Reals(1))``,
:mod:`mfderive.derive.domains`) the gradient is the Riemannian one (Ambrosio, Gigli &
Savaré 2008; Villani 2009, Ch. 23, for Wasserstein gradient flows over a Riemannian
manifold):

.. math:: D_\mu F(\mu, y) = \operatorname{grad}_y \frac{\delta F}{\delta\mu}(\mu, y)
          = P_y\,\nabla_y \frac{\delta F}{\delta\mu}(\mu, y),\qquad
          P_y = \operatorname{diag}(I - \theta\theta^\top,\ I),

where :math:`\theta` is the sphere block of :math:`y` (:math:`|\theta| = 1`): the first
variation is a function on :math:`M`, any of its extensions to the ambient space has
the same tangential derivatives, and the tangent projection keeps exactly those.  The
Lemma above holds for tangent fields :math:`b`, and on
:math:`\mu_N = \frac1N\sum_i\delta_{\xi_i}`, :math:`N P_{\xi_i}\nabla_{\xi_i}F(\mu_N)
= D_\mu F(\mu_N, \xi_i)`.
"""

from __future__ import annotations

import sympy as sp

from .measures import as_sympy, check_differentiable_measure, check_names
from .nonsmooth import ae_diff, check_no_kink
from .points import at_point, working_point
from .variation import measure_variation

__all__ = ["lions_derivative"]


def lions_derivative(F, mu, at) -> sp.Matrix:
    r"""The Lions derivative :math:`D_\mu F(\mu, y)`, a column ``sp.Matrix`` with one
    entry per variable of ``mu``: the gradient in ``y`` of the first variation.

    Where the first variation is only Lipschitz in ``y`` (``Abs``, ``Max(0, ·)``, …) the
    result is its a.e. gradient (:mod:`mfderive.derive.nonsmooth`: ``Heaviside`` for the ReLU,
    with SymPy's value 1/2 at 0 unless the expression says ``Heaviside(g, 0)``); at a
    *numeric* point on a kink it raises :class:`~mfderive.NotDifferentiableError`.

    >>> import sympy as sp, mfderive as mf
    >>> w, a = sp.symbols("w a"); mu = mf.Measure("mu", (w, a)); y = mu.point("y")
    >>> mf.lions_derivative(mf.integral(w**2 * a, mu), mu, at=y).T
    Matrix([[2*y_a*y_w, y_w**2]])

    On a measure with a sphere factor (``domain=``) the sphere block is projected on the
    tangent space, :math:`(I - \theta\theta^\top)\nabla_\theta` (valid on
    :math:`|\theta| = 1`; a numeric point off the sphere raises
    :class:`~mfderive.InvalidPointError`):

    >>> from mfderive.derive.domains import Sphere, Reals
    >>> t1, t2, r = sp.symbols("t1 t2 r", real=True)
    >>> nu = mf.Measure("nu_sph", (t1, t2, r), domain=Sphere(2) * Reals(1))
    >>> mf.lions_derivative(mf.integral(r * t1, nu), nu, at=nu.point("z")).T
    Matrix([[-z_r*z_t1**2 + z_r, -z_r*z_t1*z_t2, z_t1]])
    """
    F = as_sympy(F, "the functional F")
    mu = check_differentiable_measure(mu)
    check_names([F], [mu])
    point, ys = working_point(at, mu, [F])
    dF = measure_variation(F, mu, ys)
    if tuple(point) != tuple(ys):
        check_no_kink(dF, ys, point, f"the Lions derivative of F in {mu.name!r}")
    grad = sp.Matrix([ae_diff(dF, s) for s in ys])
    grad = grad.applyfunc(lambda e: at_point(e, ys, point))
    domain = getattr(mu, "domain", None)
    if domain is None or domain.is_euclidean:
        return grad
    # the Riemannian gradient: project each sphere block on the tangent space at the point
    domain.check_point(point, "at")
    return domain.project(grad, point)
