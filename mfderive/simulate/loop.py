r"""``run``: repeat a step inside ``lax.scan``, record observations, stop on failure.

:func:`run` records ``observe_fn(state)`` every ``record_every`` steps and stops with
:class:`~mfderive.SimulationError` naming the step where a value became NaN or infinite
(or where a scheme's own check failed: a negative density, an unconverged inner solve).
"""

from __future__ import annotations

import sys

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import SimulationError, SimulationInputError
from .inputs import count

__all__ = ['run']



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
