r"""Domains of measures: Euclidean space, spheres, and their products.

A :class:`~mfderive.Measure` lives on :math:`\mathbb R^d` unless it is given a
``domain=``.  A domain is a product of factors, each on a consecutive block of the
measure's variables (in their order):

* :class:`Reals` ``(n)``: :math:`\mathbb R^n` (``n`` variables);
* :class:`Sphere` ``(n)``: the unit sphere :math:`S^{n-1}\subset\mathbb R^n` (``n ≥ 2``
  variables, its ambient coordinates, constrained to :math:`|\theta| = 1`).

``Sphere(3) * Reals(1)`` is :math:`S^2\times\mathbb R` on four variables
:math:`(\theta_1, \theta_2, \theta_3, r)`: the parameterisation of a ReLU neuron
:math:`x\mapsto r\max(0, \theta\cdot x)` by a direction and a magnitude, which by
1-homogeneity is the neuron :math:`\max(0, w\cdot x)\,a` with :math:`\theta = w/|w|`,
:math:`r = |w|a` (the partially 1-homogeneous case of Chizat & Bach 2018).

On a product with sphere factors the gradient is the **Riemannian** one: the Euclidean
gradient of any extension of the function, with each sphere block projected onto the
tangent space at the point (Absil, Mahony & Sepulchre 2008, §3.6.1),

.. math:: \operatorname{grad}_M f(\theta, r) = \big((I - \theta\theta^\top)\nabla_\theta f,\;
          \nabla_r f\big),\qquad |\theta| = 1,

which does not depend on the extension, since a tangent projection only sees derivatives
along the sphere.  :meth:`Domain.project` writes it with the point's coordinates
(``homogeneous=False``: :math:`I - \theta\theta^\top`, valid on the sphere; ``True``:
:math:`I - \theta\theta^\top/|\theta|^2`, the orthogonal projection onto the tangent space
of the sphere through the point, for every :math:`\theta\ne0`).  The numerical
counterpart, the retraction :math:`\theta\leftarrow\theta/|\theta|` after each step, is in
:mod:`mfderive.simulate.manifolds`.
"""

from __future__ import annotations

import operator

import sympy as sp

from ..errors import InvalidOptionError, InvalidPointError, InvalidVariablesError

__all__ = ["SPHERE_TOL", "Domain", "Euclidean", "Reals", "Sphere", "sphere_times_line", "as_domain"]

#: how far from 1 the squared norm of a numeric point of a sphere block may be (a few
#: float64 roundings of a normalised vector: the squared norm of θ/‖θ‖ is 1 to about 1e-16 per
#: coordinate)
SPHERE_TOL = 1e-12


def _size(n, what: str, minimum: int) -> int:
    if isinstance(n, bool):
        raise InvalidOptionError(f"{what} must be an integer >= {minimum}, got {n!r}")
    try:
        k = operator.index(n)
    except TypeError:
        raise InvalidOptionError(f"{what} must be an integer >= {minimum}, got {n!r}") from None
    if k < minimum:
        raise InvalidOptionError(f"{what} must be an integer >= {minimum}, got {k}")
    return k


class Domain:
    r"""A product of factors (:class:`Reals`, :class:`Sphere`), each on a consecutive block
    of a measure's variables.  Build one with ``*``: ``Sphere(3) * Reals(1)``.

    >>> d = Sphere(2) * Reals(1)
    >>> d, d.dim, d.is_euclidean
    (Sphere(2) * Reals(1), 3, False)
    >>> d.blocks()
    [('sphere', slice(0, 2, None)), ('reals', slice(2, 3, None))]
    """

    def __init__(self, factors):
        factors = tuple(factors)
        flat = []
        for f in factors:
            if isinstance(f, Domain) and not isinstance(f, _Factor):
                flat.extend(f.factors)
            elif isinstance(f, _Factor):
                flat.append(f)
            else:
                raise InvalidOptionError(
                    f"a domain is a product of mf.Reals(n) and mf.Sphere(n) factors; got {f!r}"
                )
        if not flat:
            raise InvalidOptionError("a domain needs at least one factor")
        self.factors = tuple(flat)

    # structure ------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        """Number of ambient coordinates (the number of variables of its measure)."""
        return sum(f.n for f in self.factors)

    @property
    def is_euclidean(self) -> bool:
        """True when every factor is :class:`Reals` (then the domain is :math:`\\mathbb R^d`)."""
        return all(isinstance(f, Reals) for f in self.factors)

    def blocks(self) -> list[tuple[str, slice]]:
        """``[(kind, slice)]``: each factor's kind (``"reals"``, ``"sphere"``) and the slice
        of the coordinates it owns."""
        out, i = [], 0
        for f in self.factors:
            out.append((f.kind, slice(i, i + f.n)))
            i += f.n
        return out

    def sphere_blocks(self) -> list[slice]:
        """The slices of the coordinates of the sphere factors."""
        return [s for k, s in self.blocks() if k == "sphere"]

    def __mul__(self, other):
        if not isinstance(other, Domain):
            raise InvalidOptionError(
                f"a domain is a product of mf.Reals(n) and mf.Sphere(n) factors; cannot "
                f"multiply {self!r} by {other!r}"
            )
        return Domain((*self.factors, *other.factors))

    def __eq__(self, other):
        return isinstance(other, Domain) and _canon(self) == _canon(other)

    def __hash__(self):
        return hash(_canon(self))

    def __repr__(self):
        return " * ".join(repr(f) for f in self.factors)

    # checks -----------------------------------------------------------------------------
    def check_variables(self, variables, name: str = "the measure") -> None:
        """Raise :class:`~mfderive.InvalidVariablesError` unless the domain has one coordinate
        per variable and no sphere coordinate is declared non-real, positive or negative
        (a sphere has points with coordinates of either sign)."""
        variables = tuple(variables)
        if self.dim != len(variables):
            raise InvalidVariablesError(
                f"the domain {self!r} has {self.dim} coordinate(s) but {name} has "
                f"{len(variables)} variable(s) {variables}; give one factor per block of variables"
            )
        for s in self.sphere_blocks():
            for v in variables[s]:
                if v.is_extended_real is False or v.is_positive or v.is_negative \
                        or v.is_nonnegative or v.is_nonpositive:
                    raise InvalidVariablesError(
                        f"the sphere coordinate {v} of {name} is declared "
                        f"{'non-real' if v.is_extended_real is False else 'of one sign'}; a "
                        "sphere coordinate is a real number of either sign (declare it real=True)"
                    )

    def check_point(self, point, what: str = "the point") -> None:
        """Raise :class:`~mfderive.InvalidPointError` when the coordinates of a sphere block
        are all numbers and :math:`|\\theta|\\ne1` (symbolic coordinates are taken to be on
        the sphere)."""
        point = tuple(point)
        for s in self.sphere_blocks():
            block = [sp.sympify(c, strict=True) for c in point[s]]
            if all(c.is_number for c in block):
                r2 = float(sp.N(sp.Add(*[c**2 for c in block]), 30))
                if abs(r2 - 1) > SPHERE_TOL:
                    raise InvalidPointError(
                        f"{what} has sphere coordinates {tuple(block)} with |theta|^2 = {r2:.17g}, "
                        f"not 1 (tolerance {SPHERE_TOL:g}): a point of a sphere factor has norm one"
                    )

    # the Riemannian gradient -------------------------------------------------------------
    def projection(self, point, homogeneous: bool = False) -> sp.Matrix:
        r"""The tangent projection at ``point``: block diagonal, :math:`I - \theta\theta^\top`
        on each sphere block (:math:`I - \theta\theta^\top/|\theta|^2` when ``homogeneous``),
        the identity on each :class:`Reals` block.

        >>> t1, t2 = sp.symbols("t1 t2", real=True)
        >>> Sphere(2).projection((t1, t2))
        Matrix([
        [1 - t1**2,    -t1*t2],
        [   -t1*t2, 1 - t2**2]])
        """
        point = tuple(sp.sympify(c, strict=True) for c in point)
        if len(point) != self.dim:
            raise InvalidPointError(
                f"the point {point} has {len(point)} coordinate(s); the domain {self!r} has {self.dim}"
            )
        P = sp.eye(self.dim)
        for s in self.sphere_blocks():
            th = sp.Matrix(point[s])
            outer = th * th.T
            if homogeneous:
                outer = outer / sum(c**2 for c in point[s])
            P[s, s] = sp.eye(len(point[s])) - outer
        return P

    def project(self, gradient, point, homogeneous: bool = False) -> sp.Matrix:
        r"""The Riemannian gradient from a Euclidean one: ``projection(point) * gradient``,
        written as :math:`g_\theta - \theta\,(\theta\cdot g_\theta)` on each sphere block
        (divided by :math:`|\theta|^2` when ``homogeneous``).

        >>> t1, t2, r = sp.symbols("t1 t2 r", real=True)
        >>> (Sphere(2) * Reals(1)).project(sp.Matrix([r, 0, t1]), (t1, t2, r)).T
        Matrix([[-r*t1**2 + r, -r*t1*t2, t1]])
        """
        g = sp.Matrix(gradient)
        point = tuple(sp.sympify(c, strict=True) for c in point)
        if g.shape != (self.dim, 1) or len(point) != self.dim:
            raise InvalidPointError(
                f"the gradient ({g.shape[0]} entries) and the point ({len(point)} coordinates) "
                f"must both have the domain's {self.dim} coordinates"
            )
        out = sp.Matrix(g)
        for s in self.sphere_blocks():
            th = point[s]
            gs = list(g[s, 0])
            dot = sp.Add(*[a * b for a, b in zip(th, gs)])
            if homogeneous:
                dot = dot / sp.Add(*[c**2 for c in th])
            for i, (c, gi) in zip(range(s.start, s.stop), zip(th, gs)):
                out[i, 0] = sp.expand(gi - c * dot) if not homogeneous else gi - c * dot
        return out


class _Factor(Domain):
    kind = ""

    def __init__(self, n):
        self.n = _size(n, f"the dimension of {type(self).__name__}", self._minimum)
        self.factors = (self,)

    def __repr__(self):
        return f"{type(self).__name__}({self.n})"


class Reals(_Factor):
    r""":math:`\mathbb R^n` on ``n`` consecutive variables (``n ≥ 1``)."""

    kind = "reals"
    _minimum = 1


class Sphere(_Factor):
    r"""The unit sphere :math:`S^{n-1} = \{\theta\in\mathbb R^n : |\theta| = 1\}` on ``n``
    consecutive variables, its ambient coordinates (``n ≥ 2``: :math:`S^0` is two points,
    with no tangent directions).

    >>> Sphere(3) * Reals(1)
    Sphere(3) * Reals(1)
    >>> Sphere(1)
    Traceback (most recent call last):
    ...
    mfderive.errors.InvalidOptionError: the dimension of Sphere must be an integer >= 2, got 1
    """

    kind = "sphere"
    _minimum = 2


class Euclidean(Domain):
    r""":math:`\mathbb R^d` for any number of variables: the default domain of a measure."""

    def __init__(self):
        self.factors = ()

    @property
    def dim(self):
        return None

    @property
    def is_euclidean(self) -> bool:
        return True

    def blocks(self):
        return []

    def check_variables(self, variables, name="the measure"):
        return None

    def check_point(self, point, what="the point"):
        return None

    def projection(self, point, homogeneous=False):
        return sp.eye(len(tuple(point)))

    def project(self, gradient, point, homogeneous=False):
        return sp.Matrix(gradient)

    def __repr__(self):
        return "Euclidean()"


def _canon(d: Domain):
    """A hashable form; every all-Reals domain is the Euclidean one."""
    if d.is_euclidean:
        return ("euclidean",)
    out = []
    for f in d.factors:  # merge consecutive Reals blocks: Reals(1)*Reals(2) == Reals(3)
        if out and f.kind == "reals" and out[-1][0] == "reals":
            out[-1] = ("reals", out[-1][1] + f.n)
        else:
            out.append((f.kind, f.n))
    return tuple(out)


def sphere_times_line(n: int) -> Domain:
    r""":math:`S^{n-1}\times\mathbb R` on ``n + 1`` variables (a direction and a magnitude):
    ``Sphere(n) * Reals(1)``.

    >>> sphere_times_line(3)
    Sphere(3) * Reals(1)
    """
    return Sphere(n) * Reals(1)


def as_domain(domain, variables, name: str = "the measure") -> Domain:
    """Validate ``domain`` (None, or a :class:`Domain`) for ``variables``; every all-Reals
    domain becomes :class:`Euclidean`."""
    if domain is None:
        return Euclidean()
    if not isinstance(domain, Domain):
        raise InvalidOptionError(
            f"domain= must be None or a domain such as mf.Sphere(3) * mf.Reals(1), got {domain!r}"
        )
    domain.check_variables(variables, name)
    return Euclidean() if domain.is_euclidean else domain
