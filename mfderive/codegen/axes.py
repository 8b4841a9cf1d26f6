r"""Named axes: how a value that depends on several sets of atoms is laid out as an array.

An expression with free symbols bound to the atoms of measures (and to the points) is a
function on a product of index sets.  Each index set is an :class:`Axis`; a value is an
:class:`Arr`, one array dimension per axis it depends on, the axes in a fixed order (points
first, then the measures in the order they were passed, then creation order).  Two values
on different axes combine by broadcasting: :func:`align` inserts a dimension of size 1 for
every axis a value does not depend on, so :math:`u(x_a) + v(\xi_b)` is an ``(A, B)`` array
without any copy of ``u`` or ``v``.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp


@dataclass(frozen=True)
class Axis:
    """An axis of evaluation: ``source`` names the arrays bound along it, ``order`` sorts axes
    (particle-like sources first, then creation order)."""

    source: str
    order: tuple
    size: int


@dataclass
class Arr:
    value: object  # jnp array with one dimension per axis, in ``axes`` order (or a scalar)
    axes: tuple


def sorted_axes(axes):
    """The distinct ``axes`` in their evaluation order."""
    return tuple(sorted(set(axes), key=lambda a: a.order))


def align(arr: Arr, axes):
    """``arr``'s value broadcastable against ``axes`` (a size-1 dimension per missing axis)."""
    if arr.axes == tuple(axes):
        return arr.value
    if not arr.axes:
        return arr.value
    v = arr.value
    if list(arr.axes) != sorted(arr.axes, key=lambda a: a.order):  # pragma: no cover
        raise AssertionError("axes out of order")
    shape = [a.size if a in arr.axes else 1 for a in axes]
    return jnp.reshape(v, shape)


def combine(arrs, op):
    """``op`` of the values of ``arrs``, broadcast over the union of their axes."""
    axes = sorted_axes([a for r in arrs for a in r.axes])
    return Arr(op(*[align(r, axes) for r in arrs]), axes)


def fold(op, vals):
    """``op(…op(op(v0, v1), v2)…)``: a variadic SymPy node as a chain of binary operations."""
    out = vals[0]
    for v in vals[1:]:
        out = op(out, v)
    return out
