r"""Two-player zero-sum games over mixed strategies (Domingo-Enrich, Jelassi,
Mensch, Rotskoff & Bruna 2020).

Player :math:`x` minimises and player :math:`y` maximises
:math:`\mathcal L[\mu_x,\mu_y] = \int\!\!\int \ell(x,y)\,\mu_x(dx)\,\mu_y(dy)`.  With
:math:`V_x = \frac{\delta\mathcal L}{\delta\mu_x}` and :math:`V_y = \frac{\delta\mathcal L}{\delta\mu_y}`
(derived by the engine), the mean-field ascent–descent dynamics with Wasserstein–Fisher–Rao
rate :math:`\alpha \ge 0` is

.. math::
    \partial_t\mu_x = \operatorname{div}(\mu_x\nabla V_x) - \alpha(V_x - \bar V_x)\mu_x,\qquad
    \partial_t\mu_y = -\operatorname{div}(\mu_y\nabla V_y) + \alpha(V_y - \bar V_y)\mu_y .

(Lecture slides presenting this work write
:math:`\operatorname{div}(\nabla\frac{\partial\mathcal L}{\partial\mu_x})` without the
measure inside the divergence; that would not even conserve the sign of :math:`\mu_x`.
See the errata.)  A mixed Nash equilibrium is where the Nikaido–Isoda gap
:math:`\mathrm{NI} = \max_{y'} V_y(y') - \min_{x'} V_x(x') \ge 0` vanishes (for a bilinear
:math:`\mathcal L`, :math:`\mathcal L[\mu_x,\delta_{y'}] = V_y(y')`).
"""

from __future__ import annotations

import sympy as sp

from ..derive.measures import as_sympy, check_differentiable_measure, check_names
from ..derive.points import average, working_point
from ..derive.variation import first_variation
from ..errors import MfDeriveError
from .base import TIME

__all__ = ["ZeroSumGame"]


class ZeroSumGame:
    r"""``ZeroSumGame(loss, mu_x, mu_y, alpha=0)``: ``loss`` is :math:`\mathcal L`, a
    functional of both measures (typically ``integral(integral(l, mu_y), mu_x)``).

    Attributes: ``Vx``, ``Vy`` (first variations at the points ``px``, ``py``), ``mean_x``,
    ``mean_y`` (:math:`\bar V`), ``alpha``; :meth:`pde` gives the two equations.

    >>> import sympy as sp, mfderive as mf
    >>> x, y = sp.symbols("x y", real=True)
    >>> mu_x, mu_y = mf.Measure("mu_x", (x,)), mf.Measure("mu_y", (y,))
    >>> game = mf.ZeroSumGame(mf.integral(mf.integral(x * y, mu_y), mu_x), mu_x, mu_y)
    >>> game.Vx, game.bilinear
    (Int[p*y, mu_y(d(y))], True)
    """

    def __init__(self, loss, mu_x, mu_y, alpha=0):
        L = as_sympy(loss, "the game's loss")
        self.mu_x = check_differentiable_measure(mu_x, "mu_x")
        self.mu_y = check_differentiable_measure(mu_y, "mu_y")
        if self.mu_x == self.mu_y:
            raise MfDeriveError("the two players need two different measures")
        check_names([L], [self.mu_x, self.mu_y])
        self.loss, self.alpha = L, as_sympy(alpha, "alpha")
        _, self.px = working_point(self.mu_x.point("p"), self.mu_x, [L])
        _, self.py = working_point(self.mu_y.point("q"), self.mu_y, [L, *self.px])
        self.Vx = first_variation(L, self.mu_x, at=self.px)
        self.Vy = first_variation(L, self.mu_y, at=self.py)
        self.mean_x = average(self.Vx, self.px, self.mu_x)
        self.mean_y = average(self.Vy, self.py, self.mu_y)
        # bilinear: V_x does not depend on mu_x, nor V_y on mu_y
        self.bilinear = (first_variation(self.Vx, self.mu_x, at=self.mu_x.point("r")) == 0
                         and first_variation(self.Vy, self.mu_y, at=self.mu_y.point("s")) == 0)

    def pde(self) -> list[sp.Eq]:
        """The two continuity equations (divergence unevaluated, fields of ``(t, point)``)."""
        out = []
        for mu, p, V, mean, sign in (
            (self.mu_x, self.px, self.Vx, self.mean_x, 1),
            (self.mu_y, self.py, self.Vy, self.mean_y, -1),
        ):
            m = mu.density(TIME, *p)
            div = sp.Add(*[sp.Derivative(m * sp.diff(V, pi), pi) for pi in p], evaluate=False)
            rhs = sign * div - sign * self.alpha * (V - mean) * m
            out.append(sp.Eq(sp.Derivative(m, TIME), rhs, evaluate=False))
        return out

    def __repr__(self):
        return f"ZeroSumGame({self.mu_x.name} min, {self.mu_y.name} max, alpha={self.alpha})"
