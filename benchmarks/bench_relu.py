r"""``python benchmarks/bench_relu.py --n 256 1024 4096 --m 1024 --d 8 --steps 100``

A ReLU network trained by gradient flow in the parameterisations of the ReLU research
notes (issue 12 item 4, claim C13.3), through the public pipeline (derive →
:func:`mfderive.compile` → :func:`mfderive.particle_flow` → :func:`mfderive.run`):

* ``atoms``: :math:`\mu = \frac1N\sum_i\delta_{(w_i, a_i)}` on :math:`\mathbb R^d\times\mathbb R`,
  :math:`f(x) = \int a\max(0, w\cdot x)\,d\mu`;
* ``signed``: :math:`\nu = \sum_i c_i\delta_{w_i}` (``mf.Measure(..., signed=True)``),
  :math:`f(x) = \int\max(0, w\cdot x)\,d\nu`, weights as state (the lifted flow);
* ``split``: :math:`\mu` on pairs, :math:`f(x) = \int\max(0, p\cdot x) - \max(0, n\cdot x)\,d\mu`.

Risk :math:`\frac12\int(f(x) - \max(0, x_1))^2\,\nu_M(dx)` on ``M`` Gaussian data points
in :math:`\mathbb R^d`; :math:`\sigma'(0) = 0`.  For each ``N``: ``set-up s`` (derivation,
code generation, the first step with XLA compilation) and ``steps/s`` of ``mf.run``
(``lax.scan``), timed on its second call.  A step costs :math:`O(NMd)`.  Dtype float64
(``--dtype float32`` for single precision).  Prints the machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import time


def build(kind: str, d: int):
    import sympy as sp

    import mfderive as mf

    xs = sp.symbols(f"bx0:{d}", real=True)
    data = mf.Data("bench_data", xs)
    target = sp.Max(0, xs[0])
    if kind == "atoms":
        ws = sp.symbols(f"bw0:{d}", real=True)
        a = sp.Symbol("ba", real=True)
        mu = mf.Measure("bench_atoms", (*ws, a))
        f = mf.integral(a * sp.Max(0, sum(w * x for w, x in zip(ws, xs))), mu)
    elif kind == "signed":
        ws = sp.symbols(f"bs0:{d}", real=True)
        mu = mf.Measure("bench_signed", ws, signed=True)
        f = mf.integral(sp.Max(0, sum(w * x for w, x in zip(ws, xs))), mu)
    else:
        ps = sp.symbols(f"bp0:{d}", real=True)
        ns = sp.symbols(f"bn0:{d}", real=True)
        mu = mf.Measure("bench_split", (*ps, *ns))
        f = mf.integral(sp.Max(0, sum(p * x for p, x in zip(ps, xs)))
                        - sp.Max(0, sum(n * x for n, x in zip(ns, xs))), mu)
    return mf.WassersteinFlow(mf.integral((f - target) ** 2 / 2, data), mu), mu, data


def one(kind: str, n: int, m: int, d: int, steps: int, dtype: str) -> dict:
    import jax
    import jax.numpy as jnp

    import mfderive as mf

    t0 = time.perf_counter()
    flow, mu, data = build(kind, d)
    dt = jnp.float64 if dtype == "float64" else jnp.float32
    key = jax.random.PRNGKey(0)
    X = jax.random.normal(key, (m, d), dt)
    q = jnp.full((m,), 1.0 / m, dt)
    init, step, observe = mf.particle_flow(flow, data={data: (X, q)}, dt=0.05, relu_convention=0)
    P = jax.random.normal(jax.random.PRNGKey(1), (n, mu.dim), dt)
    if kind == "signed":
        state = init(P, 0, weights=jax.random.normal(jax.random.PRNGKey(2), (n,), dt) / n)
    else:
        state = init(P, 0)
    state, _ = mf.run(step, state, steps, observe, record_every=steps)
    jax.block_until_ready(state.particles)
    setup = time.perf_counter() - t0
    t1 = time.perf_counter()
    state, tr = mf.run(step, state, steps, observe, record_every=steps)
    jax.block_until_ready(state.particles)
    rate = steps / (time.perf_counter() - t1)
    return {"kind": kind, "N": n, "M": m, "d": d, "setup_s": setup, "steps_per_s": rate,
            "energy": float(tr["energy"][-1])}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="+", default=[256, 1024, 4096])
    ap.add_argument("--m", type=int, default=1024)
    ap.add_argument("--d", type=int, default=8)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--kind", nargs="+", default=["atoms", "signed", "split"])
    ap.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    args = ap.parse_args()
    import jax

    if args.dtype == "float64":
        jax.config.update("jax_enable_x64", True)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"JAX {jax.__version__} on {jax.devices()[0].platform}, dtype {args.dtype}")
    print(f"{'kind':>7} {'N':>6} {'M':>6} {'d':>3} {'set-up s':>9} {'steps/s':>9}")
    for kind in args.kind:
        for n in args.n:
            r = one(kind, n, args.m, args.d, args.steps, args.dtype)
            print(f"{kind:>7} {n:>6} {args.m:>6} {args.d:>3} {r['setup_s']:>9.2f} {r['steps_per_s']:>9.1f}")


if __name__ == "__main__":
    main()
