r"""The generated MFLD step against its *floor*, measured in the same run (issue 15, goal 1).

``python benchmarks/bench_roofline.py --N 4096 --M 4096``
``python benchmarks/bench_roofline.py --N 100000 --M 10000 --chunk 2048 --steps 3``

The step is the one of ``benchmarks/bench.py mfld``: neurons :math:`\xi = (w, a\in\mathbb R^d, b)`
of a two-layer tanh network, MSE loss on :math:`M` data points, penalty
:math:`\frac\lambda2|\xi|^2`, confinement :math:`|\xi|^2/2`, noise :math:`\sigma`, one
Euler–Maruyama step.  The **floor** is the least work that step needs, written by hand as
tight as we can in JAX:

.. math::

   Z = A X^\top + b\,\mathbf 1^\top,\quad T = \tanh Z,\quad
   r = (T^\top w/N - t)/M,\quad
   G = (1 - T\odot T)\odot (\mathbf 1 r^\top),\quad
   [\,g_a\;|\;g_b\,] = w\odot\big(G\,[X\;|\;\mathbf 1]\big),\quad g_w = T r,

i.e. one :math:`N\times M\times d` product forward, one tanh per pair, two matrix–vector
products and one :math:`N\times M\times(d+1)` product back (the :math:`b`-gradient folded into
it as a column of ones).  For :math:`N` larger than ``--chunk`` the floor runs the same
two passes as the generated code: a ``lax.scan`` over blocks of particles accumulating
:math:`T^\top w` (an :math:`M`-vector), then the drift block by block (``lax.map``), so its
temporaries are ``chunk × M`` too.

Both run ``--steps`` steps in one ``lax.scan`` with the same keys; the script prints
seconds per step, the ratio generated / floor, nanoseconds per (particle, datum) pair, the
maximum relative difference of the two trajectories, and the compiled temporaries
(``memory_analysis``) of one step.  Goals (issue 15): ratio ≤ 1.3 at N = M = 4096, ≤ 1.5 at
N = 10⁵ and 10⁶ with M = 10⁴ (chunked), temporaries ≤ 4 GB.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import DT, LAM, SIGMA, _problem, generated_step, machine_line  # noqa: E402


def floor_step(N, M, d, dtype, chunk=None):
    """The hand-fused minimal step ``step(P, key) -> P`` (same keys and noise as the engine)."""
    import jax
    import jax.numpy as jnp

    P0, X, t = _problem(N, M, d, dtype)
    X, t = jnp.asarray(X), jnp.asarray(t)
    X1 = jnp.concatenate([X, jnp.ones((M, 1), X.dtype)], axis=1)  # [X | 1]: b's gradient rides along
    c = DT * (LAM + SIGMA**2 / 2)  # the penalty and the confinement σ²/2·|ξ|²/2 shrink ξ

    def forward(P):
        return jnp.tanh(P[:, 1 : d + 1] @ X.T + P[:, d + 1 :])  # (n, M)

    def drift_terms(P, r):
        T = forward(P)
        gw = T @ r  # (n,)
        gab = ((1 - T * T) * r) @ X1  # (n, d + 1)
        return jnp.concatenate([gw[:, None], P[:, :1] * gab], axis=1)

    def step(P, key):
        n = P.shape[0]
        if chunk is None or n <= chunk:
            f = P[:, 0] @ forward(P) / n
            g = drift_terms(P, (f - t) / M)
        else:
            nb = -(-n // chunk)
            Pp = jnp.concatenate([P, jnp.zeros((nb * chunk - n, P.shape[1]), P.dtype)]).reshape(nb, chunk, -1)
            f = jax.lax.scan(lambda acc, B: (acc + B[:, 0] @ forward(B), None), jnp.zeros(M, P.dtype), Pp)[0] / n
            r = (f - t) / M
            g = jax.lax.map(lambda B: drift_terms(B, r), Pp).reshape(nb * chunk, -1)[:n]
        sub = jax.random.split(key)[1]
        return P - DT * g - c * P + SIGMA * jnp.sqrt(DT) * jax.random.normal(sub, P.shape, P.dtype)

    return step, P0


def _runner(step, steps):
    import jax

    def many(P, key):
        return jax.lax.scan(lambda c, k: (step(c, k), None), P, jax.random.split(key, steps))[0]

    return jax.jit(many)


def _temporaries(step, P):
    import jax

    key = jax.random.PRNGKey(0)
    m = jax.jit(step).lower(P, key).compile().memory_analysis()
    return getattr(m, "temp_size_in_bytes", float("nan")) if m is not None else float("nan")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--N", type=int, default=4096)
    ap.add_argument("--M", type=int, default=4096)
    ap.add_argument("--d", type=int, default=16)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=3, help="timed runs of each, interleaved; best kept")
    ap.add_argument("--chunk", type=int, default=None)
    ap.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    args = ap.parse_args(argv)

    import jax
    import jax.numpy as jnp

    if args.dtype == "float64":
        jax.config.update("jax_enable_x64", True)
    dtype = np.dtype(args.dtype)
    N, M, d, steps = args.N, args.M, args.d, args.steps
    print(machine_line())
    print(f"date {datetime.date.today()}; MFLD step, tanh network: N={N}, M={M}, d={d}, {args.dtype}, "
          f"chunk={args.chunk}, {steps} steps per run, best of {args.repeats}")
    gen, P = generated_step(N, M, d, dtype, args.chunk)
    flo, _ = floor_step(N, M, d, dtype, args.chunk)
    P = jnp.asarray(P)
    runs = {"generated": _runner(gen, steps), "floor": _runner(flo, steps)}
    key = jax.random.PRNGKey(0)
    out = {}
    for name, f in runs.items():
        t0 = time.perf_counter()
        out[name] = np.asarray(jax.block_until_ready(f(P, key)))
        print(f"  {name:<9} compile + first run {time.perf_counter() - t0:.1f} s", flush=True)
    best = {k: float("inf") for k in runs}
    for _ in range(args.repeats):  # interleaved, so both see the same machine load
        for name, f in runs.items():
            t0 = time.perf_counter()
            jax.block_until_ready(f(P, key))
            best[name] = min(best[name], (time.perf_counter() - t0) / steps)
    diff = np.max(np.abs(out["generated"] - out["floor"])) / np.max(np.abs(out["floor"]))
    for name in runs:
        temp = _temporaries(gen if name == "generated" else flo, P)
        print(f"  {name:<9} {best[name] * 1e3:10.2f} ms/step  {best[name] / (N * M) * 1e9:7.3f} ns/pair  "
              f"temporaries {temp / 2**20:8.1f} MB")
    print(f"  max rel. difference of the trajectories after {steps} steps: {diff:.1e}")
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux -> GiB
    print(f"  peak resident memory of the process (both variants, data, particles): {rss:.2f} GiB")
    print(f"ratio generated / floor: {best['generated'] / best['floor']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
