r"""Particles on a product with sphere factors: the check at ``init`` and the retraction.

A particle :math:`(\theta, r)\in S^{k-1}\times\mathbb R^j` moved by an Euler step along a
tangent velocity leaves the sphere by :math:`O(\Delta t^2)`; the metric-projection
retraction :math:`R_\theta(v) = (\theta + v)/|\theta + v|` (Absil, Mahony & Sepulchre
2008, Example 4.1.1) brings it back, and the projected (Riemannian) Euler step

.. math:: \theta_{n+1} = \frac{\theta_n + \Delta t\,b_\theta}{|\theta_n + \Delta t\,b_\theta|},
          \qquad b_\theta \perp \theta_n,

is a retraction-based gradient step, of order 1 in :math:`\Delta t` (:data:`ORDER`) like
the Euler step it corrects: :math:`|\theta_n + \Delta t\,b|^{-1} = 1 + O(\Delta t^2)`.
Since :math:`b_\theta\perp\theta_n`, :math:`|\theta_n + \Delta t\,b_\theta| \ge 1`: the
division is always defined.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import numpy as np

from ..errors import SimulationInputError

__all__ = ["ORDER", "SPHERE_TOL_EPS", "SphereConstraint"]

#: order in dt of the retracted Euler step (that of the Euler step)
ORDER = 1
#: a particle is on the sphere when ``abs(|theta| - 1) <= SPHERE_TOL_EPS * eps`` (eps the
#: machine epsilon of the particles' dtype): a vector normalised in that precision is within
#: a few eps of norm one
SPHERE_TOL_EPS = 64


class SphereConstraint(NamedTuple):
    """The sphere blocks of the particles' coordinates, as ``(start, stop)`` pairs."""

    blocks: tuple

    def retract(self, X):
        r""":math:`\theta\leftarrow\theta/|\theta|` on every sphere block of ``X`` ``(N, d)``.

        >>> c = SphereConstraint(((0, 2),))
        >>> [round(v, 6) for v in c.retract(jnp.array([[3.0, 4.0, 7.0]]))[0].tolist()]
        [0.6, 0.8, 7.0]
        """
        for a, b in self.blocks:
            th = X[:, a:b]
            X = X.at[:, a:b].set(th / jnp.linalg.norm(th, axis=1, keepdims=True))
        return X

    def check(self, X, what: str = "the particles"):
        """Raise :class:`~mfderive.SimulationInputError` when a particle of ``X`` is off a
        sphere block by more than ``SPHERE_TOL_EPS`` machine epsilons (checked at ``init``;
        the particles are not normalised silently)."""
        A = np.asarray(X)
        tol = SPHERE_TOL_EPS * float(np.finfo(A.dtype).eps)
        for a, b in self.blocks:
            dev = np.abs(np.linalg.norm(A[:, a:b], axis=1) - 1.0)
            bad = np.flatnonzero(dev > tol)
            if bad.size:
                i = int(bad[0])
                raise SimulationInputError(
                    f"{what}: particle {i} has |theta| = {np.linalg.norm(A[i, a:b]):.17g} on the "
                    f"sphere coordinates {a}..{b - 1} ({bad.size} particle(s) off the sphere; "
                    f"tolerance {tol:.3g} = {SPHERE_TOL_EPS} eps of {A.dtype}); normalise them, "
                    "theta / |theta|, before init"
                )
        return X
