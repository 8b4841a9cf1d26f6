r"""Particle simulators for Wasserstein flows, driven by compiled derivations.

``init_fn, step_fn = particle_flow(flow, data=..., values=..., dt=...)`` follows the
JAX MD convention: pure functions, the state an explicit value.  ``step_fn`` advances
the empirical measure :math:`\mu_N = \frac1N\sum_i\delta_{X_i}` by one Euler–Maruyama step
of the flow's particle system,

.. math:: X_i \leftarrow X_i + \Delta t\,b(\mu_N, X_i) + \sigma\sqrt{\Delta t}\,\xi_i,

with the drift :math:`b = -(D_\mu F + \frac{\sigma^2}{2}\nabla U)` derived by the engine
(``flow.sde()``) and compiled by :func:`mfderive.compile` (for :math:`\sigma = 0` this is
gradient descent on the particles, seed 002 §2.2.1(ii)).  :func:`run` repeats it inside
``lax.scan``, recording the energy :math:`F(\mu_N)` and the mean squared drift, and
stops with :class:`SimulationError` naming the step where a value became NaN or infinite
(or where a scheme's own check failed: a negative density, an unconverged inner solve).

The shared input checks of every simulator live here too: parameter values matched to the
flow's own symbols (by Symbol or by name; a string is only ever compared with names, never
parsed), data arrays, time steps, particles and PRNG keys.  Each bad input raises a
:class:`~mfderive.errors.SimulationInputError` naming it, before the first step.
"""

from __future__ import annotations

import operator
import sys
from collections.abc import Mapping
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp

from .codegen import compile as compile_expr
from .errors import MfDeriveError, NotAFlowError, SimulationInputError, UnsafeInputError
from .flows import WassersteinFlow
from .integrals import LocalIntegral
from .measures import Data, Measure

__all__ = [
    "ParticleState", "SimulationError", "StepSizeError", "particle_flow", "run",
]


class SimulationError(MfDeriveError, FloatingPointError):
    """A simulation produced a non-finite value, or left the set where its scheme is valid
    (a negative density, an inner solve that did not converge)."""


class StepSizeError(SimulationError, SimulationInputError):
    """A time step above the stability limit of an explicit scheme, found at ``init``
    before any step is taken (the message gives the largest stable step)."""


@jax.tree_util.register_dataclass
@dataclass
class ParticleState:
    """Particles ``(N, d)``, the PRNG key, the time and the step count."""

    particles: jax.Array
    key: jax.Array
    t: jax.Array
    step: jax.Array


# -- input checks shared by the simulators -------------------------------------------------


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


def init_particles(particles, key, dim=None):
    """:class:`ParticleState` from ``(N,)`` or ``(N, d)`` positions (finite, at least one
    particle; integer arrays are cast to floats) and a PRNG key (or an int seed)."""
    if dim is None:
        shape = np.shape(particles)
        dim = shape[1] if len(shape) == 2 else 1
    X = points_array(particles, dim, "the particles")
    return ParticleState(X, prng_key(key), jnp.zeros((), X.dtype), jnp.zeros((), jnp.int32))


def particle_flow(flow: WassersteinFlow, data=None, values=None, dt=1e-2, chunk_size=None,
                  snapshots=False):
    r"""``(init_fn, step_fn, observe_fn)`` for the particles of a :class:`WassersteinFlow`.

    Parameters
    ----------
    flow : WassersteinFlow (deterministic or MFLD)
    data : dict ``{Data: (points, weights)}`` for the fixed measures the energy uses
        (points ``(M, d)``, or ``(M,)`` for one variable; weights ``(M,)``, one per point)
    values : dict ``{Symbol or name: number}`` for the flow's parameters (e.g. σ, or
        ``"sigma"``); every parameter needs one
    dt : time step (a finite positive number)
    chunk_size : passed to :func:`mfderive.compile` (memory for large N×M)
    snapshots : record the particles too (``observe_fn`` then returns a dict with
        ``energy``, ``dissipation`` and ``particles``)

    ``init_fn(particles, key)`` → state (particles ``(N, d)``, N ≥ 1, finite; integers are
    cast to floats; ``key`` a PRNG key or an int seed); ``step_fn(state)`` → state;
    ``observe_fn(state)`` → ``(energy F(μ_N), mean |drift|²)``, where local terms of ``F``
    (an entropy, read as noise by ``flow.sde()``) are left out of the recorded energy: an
    empirical measure has no density.
    """
    if not isinstance(flow, WassersteinFlow):
        raise NotAFlowError(f"particle_flow needs a WassersteinFlow, got {type(flow).__name__}")
    dt = time_step(dt)
    if chunk_size is not None:
        chunk_size = count(chunk_size, "chunk_size", 1)
    mu = flow.mu
    drift, sigma = flow.sde()
    values, measures, data_args = inputs(mu, data, values, [drift, sigma, flow.functional], flow.point)
    drift = drift.subs(values)
    sigma = real_number(sigma.subs(values), f"the noise sigma = {sigma}")
    # local terms (entropy, ∫m²) have no value on particles: the recorded energy is F without them
    energy = flow.functional.subs(values).replace(lambda e: isinstance(e, LocalIntegral), lambda e: sp.S.Zero)
    drift_fn = compile_expr(drift, measures, at=flow.point, points_from=mu, chunk_size=chunk_size)
    energy_fn = compile_expr(energy, measures, chunk_size=chunk_size)

    def init_fn(particles, key):
        return init_particles(particles, key, mu.dim)

    def _weights(X):
        return jnp.full((X.shape[0],), 1.0 / X.shape[0], X.dtype)

    def step_fn(state: ParticleState) -> ParticleState:
        X = state.particles
        b = drift_fn(X, _weights(X), *data_args).astype(X.dtype)
        key, sub = jax.random.split(state.key)
        if sigma != 0.0:
            X = X + dt * b + sigma * jnp.sqrt(dt) * jax.random.normal(sub, X.shape, X.dtype)
        else:
            X = X + dt * b
        return ParticleState(X, key, state.t + dt, state.step + 1)

    def observe_fn(state: ParticleState):
        X = state.particles
        w = _weights(X)
        b = drift_fn(X, w, *data_args)
        obs = energy_fn(X, w, *data_args), jnp.mean(jnp.sum(b * b, axis=-1))
        return {"energy": obs[0], "dissipation": obs[1], "particles": X} if snapshots else obs

    return init_fn, step_fn, observe_fn


_SCANNERS: dict = {}


def _finite(state):
    """All floating-point leaves of a state finite (keys and counters skipped)."""
    leaves = [x for x in jax.tree_util.tree_leaves(state) if jnp.issubdtype(x.dtype, jnp.inexact)]
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in leaves])) if leaves else jnp.array(True)


def _admissible(state):
    """The scheme's own check of a state (``state.admissible()``: e.g. a density that stayed
    non-negative, inner iterations that converged; sticky over the steps), or True."""
    check = getattr(state, "admissible", None)
    return jnp.asarray(check()) if callable(check) else jnp.array(True)


def _scanner(step_fn, observe_fn):
    """The jitted ``lax.scan`` over recording blocks (cached per step/observe pair; the
    block length is a traced value, so changing ``record_every`` does not recompile)."""
    key = (step_fn, observe_fn)
    if key not in _SCANNERS:

        def scan(s, every, n):
            def block(s, _):
                s = jax.lax.fori_loop(0, every, lambda i, c: step_fn(c), s)
                obs = observe_fn(s) if observe_fn is not None else ()
                return s, (s.step, _finite(s), _admissible(s), obs)

            return jax.lax.scan(block, s, None, length=n)

        _SCANNERS[key] = jax.jit(scan, static_argnums=2)
    return _SCANNERS[key]


def _observation_names(first):
    """The trace keys of one observation: a dict's keys, or a pair read as energy, dissipation."""
    return list(first) if isinstance(first, dict) else ["energy", "dissipation"]


def _empty_trace(state, observe_fn):
    """The trace of zero records: each array of length 0 with the shape and dtype a record
    would have (from ``jax.eval_shape``, nothing is computed)."""
    trace = {"step": np.zeros((0,), np.int32)}
    if observe_fn is None:
        return trace
    shapes = jax.eval_shape(observe_fn, state)
    for i, name in enumerate(_observation_names(shapes)):
        s = shapes[name] if isinstance(shapes, dict) else shapes[i]
        trace[name] = np.zeros((0, *s.shape), s.dtype)
    return trace


def run(step_fn, state, steps: int, observe_fn=None, record_every: int = 1, progress: bool = False):
    """Advance ``state`` by ``steps`` steps in ``lax.scan``; record ``observe_fn`` every
    ``record_every`` steps.  Returns ``(state, trace)`` with ``trace`` a dict of arrays:
    ``step``, and what ``observe_fn`` returns — a dict (its keys), or a pair read as
    ``energy``, ``dissipation``.  Works for any state with a ``step`` field (particles,
    grids, games).

    ``steps`` is an integer ≥ 0 and a multiple of ``record_every`` (an integer ≥ 1);
    ``steps=0`` returns ``state`` unchanged and a trace of zero records (every array of
    length 0).  With ``progress=True`` the scan runs in up to 20 segments and prints after each.
    Raises :class:`SimulationError` at the first record where a value of the state or of
    the observation is not finite, or where the state fails its scheme's own check
    (``state.admissible()``, e.g. a negative density on a grid, an unconverged JKO step);
    the message names the step, and ``step_fn.failure`` (when set) says what failed."""
    if not callable(step_fn):
        raise SimulationInputError(f"step_fn must be a function (the simulator's step), got {type(step_fn).__name__}")
    if observe_fn is not None and not callable(observe_fn):
        raise SimulationInputError(f"observe_fn must be a function or None, got {type(observe_fn).__name__}")
    steps = count(steps, "steps", 0)
    record_every = count(record_every, "record_every", 1)
    if not hasattr(state, "step"):
        raise SimulationInputError(f"state must be a simulator state (from init_fn), got {type(state).__name__}")
    if steps % record_every:
        raise SimulationInputError(f"steps ({steps}) must be a multiple of record_every ({record_every})")
    n_rec = steps // record_every
    if n_rec == 0:
        return state, _empty_trace(state, observe_fn)
    segments = min(20, n_rec) if progress else 1
    sizes = [n_rec // segments + (1 if i < n_rec % segments else 0) for i in range(segments)]
    scan = _scanner(step_fn, observe_fn)
    outs = []
    for i, n in enumerate(sizes):
        state, out = scan(state, jnp.int32(record_every), n)
        outs.append(out)
        if progress:
            done = sum(sizes[: i + 1]) * record_every
            print(f"\r  step {done}/{steps}", end="" if i + 1 < segments else "\n", file=sys.stderr, flush=True)
        if not (bool(out[1][-1]) and bool(out[2][-1])):
            break
    step = np.concatenate([np.asarray(o[0]) for o in outs])
    finite = np.concatenate([np.asarray(o[1]) for o in outs])
    admissible = np.concatenate([np.asarray(o[2]) for o in outs])
    trace = {"step": step}
    if observe_fn is not None:
        first = outs[0][3]
        for i, name in enumerate(_observation_names(first)):
            trace[name] = np.concatenate(
                [np.asarray(o[3][name] if isinstance(first, dict) else o[3][i]) for o in outs]
            )
            finite = finite & np.all(np.isfinite(trace[name]).reshape(len(finite), -1), axis=1)
    if not (finite.all() and admissible.all()):
        bad = int(np.argmin(finite & admissible))
        k = int(step[bad])
        if not admissible[bad]:
            what = getattr(step_fn, "failure", "the state failed its scheme's check")
            raise SimulationError(f"by step {k} (recorded every {record_every}): {what}")
        raise SimulationError(
            f"a value became NaN or infinite by step {k} (recorded every {record_every}); "
            f"the step size is probably too large for this flow: try a smaller dt"
        )
    return state, trace
