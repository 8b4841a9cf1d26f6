r"""The input checks every simulator shares.

Parameter values matched to the flow's own symbols (by Symbol or by name; a string is
only ever compared with names, never parsed), data arrays, time steps, particles and PRNG
keys.  Each bad input raises a :class:`~mfderive.errors.SimulationInputError` naming it,
before the first step.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping

import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp

from ..derive.measures import Data, Measure
from ..errors import SimulationInputError, UnsafeInputError

__all__ = [
    'count',
    'data_arrays',
    'float_array',
    'free_parameters',
    'inputs',
    'parameter_values',
    'particle_weights',
    'points_array',
    'prng_key',
    'probability_weights',
    'rate',
    'real_number',
    'time_step',
]



def real_number(v, what: str) -> float:
    """``v`` (a Python, NumPy, JAX or SymPy real number) as a finite float."""
    if isinstance(v, sp.Basic):
        if not (v.is_number and v.is_extended_real and v.is_finite):
            raise SimulationInputError(f"{what} must be a finite real number, got {v}")
        return float(v)
    if isinstance(v, (str, bytes, bool, np.bool_)):
        raise SimulationInputError(f"{what} must be a finite real number, got {v!r}")
    a = np.asarray(v)
    if a.shape != () or a.dtype.kind not in "iuf":
        raise SimulationInputError(f"{what} must be a finite real number, got {v!r}")
    f = float(a)
    if not np.isfinite(f):
        raise SimulationInputError(f"{what} must be a finite real number, got {f}")
    return f



def time_step(dt, what: str = "dt") -> float:
    """A time step: a finite positive number (checked before any step is taken)."""
    f = real_number(dt, f"the time step {what}")
    if not f > 0:
        raise SimulationInputError(f"the time step {what} must be positive, got {f:g}")
    return f



def count(n, what: str, minimum: int) -> int:
    """An integer ``n >= minimum`` (no bools, no floats such as ``10.0``)."""
    if isinstance(n, (bool, np.bool_)):
        raise SimulationInputError(f"{what} must be an integer >= {minimum}, got {n!r}")
    try:
        k = operator.index(n)
    except TypeError:
        raise SimulationInputError(f"{what} must be an integer >= {minimum}, got {n!r}") from None
    if k < minimum:
        raise SimulationInputError(f"{what} must be an integer >= {minimum}, got {k}")
    return k



def float_array(a, what: str):
    """``a`` as a JAX array of floats: floating arrays keep their dtype, integer and boolean
    ones are cast to the default float dtype (float64 under ``jax_enable_x64``); complex,
    string or object arrays that are not real numbers, and NaN or infinite entries, raise."""
    if isinstance(a, (str, bytes)):
        raise SimulationInputError(f"{what} must be an array of real numbers, got {a!r}")
    try:
        arr = a if isinstance(a, jax.Array) else np.asarray(a)
    except (TypeError, ValueError):  # a ragged or mixed nested list
        raise SimulationInputError(f"{what} must be an array of real numbers, got a ragged or mixed list") from None
    kind = arr.dtype.kind
    if kind == "O":
        try:
            arr = np.asarray(arr, dtype=float)
        except (TypeError, ValueError):
            raise SimulationInputError(f"{what} must be an array of real numbers") from None
    elif kind in "biu":
        arr = jnp.asarray(arr, dtype=jnp.result_type(float))
    elif kind != "f":
        raise SimulationInputError(f"{what} must be an array of real numbers, got dtype {arr.dtype}")
    arr = jnp.asarray(arr)
    if not bool(jnp.all(jnp.isfinite(arr))):
        raise SimulationInputError(f"{what} contain NaN or infinite values")
    return arr



def points_array(a, dim: int, what: str, minimum: int = 1):
    """Points of a measure with ``dim`` variables as a finite ``(N, dim)`` float array
    (``(N,)`` is read as ``(N, 1)`` when ``dim == 1``), with at least ``minimum`` rows."""
    X = float_array(a, what)
    if X.ndim == 1 and dim == 1:
        X = X[:, None]
    if X.ndim != 2 or X.shape[1] != dim:
        shape = "(N,) or (N, 1)" if dim == 1 else f"(N, {dim})"
        raise SimulationInputError(f"{what} must have shape {shape} (one column per variable), got {X.shape}")
    if X.shape[0] < minimum:
        raise SimulationInputError(f"{what} are empty: at least {minimum} point(s) are needed")
    return X



def prng_key(key):
    """A JAX PRNG key: a typed key (``jax.random.key``), a raw ``uint32`` key
    (``jax.random.PRNGKey``), or an int seed (converted with ``jax.random.PRNGKey``)."""
    if isinstance(key, (int, np.integer)) and not isinstance(key, (bool, np.bool_)):
        return jax.random.PRNGKey(int(key))
    if isinstance(key, (np.ndarray, jax.Array)):
        k = jnp.asarray(key)
        if jnp.issubdtype(k.dtype, jax.dtypes.prng_key) and k.shape == ():
            return k
        if k.dtype == jnp.uint32 and k.ndim == 1:
            return k
    raise SimulationInputError(
        f"key must be a JAX PRNG key (jax.random.key(seed) or jax.random.PRNGKey(seed)) or an "
        f"int seed, got {type(key).__name__}"
    )



def free_parameters(exprs, bound=()) -> set:
    """The free symbols of SymPy ``exprs`` other than ``bound`` (the flow's point): the
    parameters that need ``values=``."""
    out = set()
    for e in exprs:
        out |= e.free_symbols
    return out - set(bound)



def _sympy_number(v, what: str) -> sp.Expr:
    """A checked real number as SymPy: SymPy numbers as given, integers exact, floats as Float."""
    f = real_number(v, what)
    if isinstance(v, sp.Basic):
        return v
    return sp.Integer(int(v)) if np.asarray(v).dtype.kind in "iu" else sp.Float(f)



def _names(symbols) -> str:
    return ", ".join(sorted(s.name for s in symbols))



def parameter_values(values, parameters) -> dict:
    r"""``{Symbol: number}`` for every symbol in ``parameters`` from ``values``, a dict keyed
    by those Symbols or by their names.

    A name is matched against the parameters' own names (a string is never parsed or
    evaluated); a Symbol that is not a parameter but shares a parameter's name (other
    assumptions, e.g. ``Symbol("sigma")`` for ``Symbol("sigma", positive=True)``) means that
    parameter.  Unknown or ambiguous keys, values that are not finite real numbers, and
    parameters left without a value raise :class:`SimulationInputError`.
    """
    parameters = set(parameters)
    if values is None:
        values = {}
    if not isinstance(values, Mapping):
        raise SimulationInputError(f"values= must be a dict {{Symbol or name: number}}, got {type(values).__name__}")
    by_name: dict = {}
    for p in parameters:
        by_name.setdefault(p.name, []).append(p)
    known = _names(parameters) or "none"
    out = {}
    for k, v in values.items():
        if isinstance(k, sp.Symbol) and k in parameters:
            sym = k
        elif isinstance(k, (str, sp.Symbol)):
            name = k if isinstance(k, str) else k.name
            found = by_name.get(name, [])
            if len(found) != 1:
                why = "is not a parameter of this flow" if not found else "names two symbols of this flow"
                raise SimulationInputError(f"values= key {name!r} {why}; its parameters are: {known}")
            (sym,) = found
        else:
            raise SimulationInputError(
                f"values= keys must be the flow's Symbols or their names (str), got {type(k).__name__} {k!r}"
            )
        if sym in out:
            raise SimulationInputError(f"values= gives the parameter {sym.name} twice")
        out[sym] = _sympy_number(v, f"values[{sym.name!r}]")
    missing = parameters - set(out)
    if missing:
        raise SimulationInputError(
            f"the flow's parameter(s) {_names(missing)} have no value: pass values={{"
            + ", ".join(f"{s.name!r}: number" for s in sorted(missing, key=lambda s: s.name))
            + "} (keys: the Symbols or their names)"
        )
    return out



def data_arrays(mu, data, needed) -> tuple[list, list]:
    """``(measures, arrays)``: ``[mu, *data]`` and the data points ``(M, d)`` and weights
    ``(M,)`` flattened in that order, after checking that every key is a :class:`Data`
    measure (the flowed measure's atoms are the particles, never data), every fixed measure
    in ``needed`` is given, points are finite with one column per variable and at least one
    row, and weights are finite, non-negative, one per point."""
    data = {} if data is None else data
    if not isinstance(data, Mapping):
        raise SimulationInputError(f"data= must be a dict {{Data: (points, weights)}}, got {type(data).__name__}")
    arrays = []
    for nu, pw in data.items():
        if not isinstance(nu, Data):
            if isinstance(nu, Measure):
                role = "the flowed measure" if nu == mu else "a Measure"
                raise SimulationInputError(
                    f"data= is for fixed Data measures; {nu.name!r} is {role}: its atoms are the "
                    f"particles (or density) the simulator moves, given to init_fn, not data"
                )
            raise SimulationInputError(f"data= keys must be mf.Data measures, got {type(nu).__name__} {nu!r}")
        if not (isinstance(pw, (tuple, list)) and len(pw) == 2):
            raise SimulationInputError(f"data[{nu.name!r}] must be a pair (points, weights)")
        pts = points_array(pw[0], nu.dim, f"the points of {nu.name!r}")
        w = float_array(pw[1], f"the weights of {nu.name!r}")
        if w.shape != (pts.shape[0],):
            raise SimulationInputError(
                f"the weights of {nu.name!r} must have shape ({pts.shape[0]},), one per point, got {w.shape}"
            )
        if bool(jnp.any(w < 0)):
            raise SimulationInputError(f"the weights of {nu.name!r} must be non-negative (a measure)")
        arrays += [pts, w]
    missing = [nu for nu in needed if nu not in data]
    if missing:
        raise SimulationInputError(
            "the flow integrates against the fixed measure(s) "
            + ", ".join(repr(nu.name) for nu in missing)
            + ": pass data={" + ", ".join(f"{nu.name}: (points, weights)" for nu in missing) + "}"
        )
    return [mu, *data], arrays



def inputs(mu, data, values, exprs, bound=()):
    """``(values, measures, data_args)`` for a simulator compiling ``exprs`` (SymPy, with
    the flow's point ``bound``): the checked parameter values, the measures a compiled
    function takes (``mu`` first, then the data measures) and the checked data arrays,
    flattened in that order.  Shared by every simulator."""
    exprs = list(exprs)
    needed = sorted(set().union(*[e.atoms(Data) for e in exprs]), key=lambda nu: nu.name)
    measures, arrays = data_arrays(mu, data, needed)
    return parameter_values(values, free_parameters(exprs, bound)), measures, arrays



def rate(expr, values, name="alpha"):
    """A flow's rate (e.g. the Fisher–Rao α) as a non-negative float, after ``values``
    (a SymPy expression or a number; strings are refused, never parsed)."""
    if isinstance(expr, (str, bytes)):
        raise UnsafeInputError(f"{name} must be a SymPy expression or a number, not the string {expr!r}")
    r = expr.subs(values) if isinstance(expr, sp.Basic) else expr
    if isinstance(r, sp.Basic) and r.free_symbols:
        raise SimulationInputError(f"{name} = {r} has no value: pass values={{{_names(r.free_symbols)!r}: number}}")
    f = real_number(r, name)
    if f < 0:
        raise SimulationInputError(f"{name} must be a non-negative number, got {f:g}")
    return f



def _mass_tolerance(weights, n: int) -> float:
    """How far from 1 the (exactly summed) weights may be: rounding ``n`` weights to the
    input's precision moves their total by at most ``n·eps/2`` (float64: 1e-10 for
    n = 10⁶), so ``max(1e-9, n·eps)``; a real mistake is far larger."""
    dtype = np.asarray(weights).dtype
    eps = np.finfo(dtype).eps if np.issubdtype(dtype, np.floating) else np.finfo(np.float64).eps
    return max(1e-9, n * float(eps))



def probability_weights(weights, name: str) -> np.ndarray:
    r"""Particle weights :math:`p` as float64: a non-empty 1-D array, finite,
    :math:`p_i \ge 0`, :math:`\sum_i p_i = 1` (the measure ``name`` is a probability measure)."""
    float_array(weights, f"the weights of {name!r}")  # finite real numbers, or raise
    p = np.asarray(weights, dtype=np.float64)  # not the default float: float32 without x64
    if p.ndim != 1 or p.size == 0:
        raise SimulationInputError(
            f"the weights of {name!r} must be a non-empty 1-D sequence (one per particle), "
            f"got shape {p.shape}"
        )
    if np.any(p < 0):
        i = int(np.argmax(p < 0))
        raise SimulationInputError(
            f"the weights of {name!r} must be non-negative, got p[{i}] = {p[i]:g} ({name!r} is "
            f"a probability measure; declare a signed one with mf.Measure(..., signed=True))"
        )
    total = math.fsum(p)
    if abs(total - 1) > _mass_tolerance(weights, p.size):
        raise SimulationInputError(
            f"the weights of {name!r} sum to {total!r}, but {name!r} is a probability measure: "
            f"normalise them"
        )
    return p



def particle_weights(weights, n: int, name: str, signed: bool = False, dtype=None):
    r"""The weights of ``n`` particles of the measure ``name`` as a JAX array ``(n,)``.

    ``None`` gives :math:`1/n` each for a probability measure and raises for a signed one
    (whose weights :math:`\alpha_i \in \mathbb R` are part of its state and must be given).
    Given weights must be finite real numbers, one per particle; for a probability measure
    also :math:`p_i \ge 0` with :math:`\sum_i p_i = 1` (:func:`probability_weights`).

    >>> particle_weights(None, 2, "mu").tolist(), particle_weights([3, -1], 2, "nu", signed=True).tolist()
    ([0.5, 0.5], [3.0, -1.0])
    """
    if weights is None:
        if signed:
            raise SimulationInputError(
                f"{name!r} is a signed measure: pass its weights (one real number per "
                f"particle) to init_fn(particles, key, weights)"
            )
        return jnp.full((n,), 1.0 / n, dtype or jnp.result_type(float))
    w = float_array(weights, f"the weights of {name!r}")
    if w.shape != (n,):
        raise SimulationInputError(
            f"the weights of {name!r} must have shape ({n},), one per particle, got {w.shape}"
        )
    if not signed:
        probability_weights(w, name)
    return w.astype(dtype) if dtype is not None else w
