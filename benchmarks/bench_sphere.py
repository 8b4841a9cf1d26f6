"""Benchmark: gradient-descent particles of a ReLU network on S^{d-1} x R (retracted Euler,
mf.particle_flow on a Measure with domain=Sphere(d) * Reals(1)) against the same network in
the Euclidean parameterisation (w, a) in R^d x R.

    python benchmarks/bench_sphere.py --N 1024 --M 1024 --d 8 --steps 200 --dtype float64

Prints steps/s of each (compile time excluded: one warm-up run first), and the largest
deviation of |theta| from 1 at the end.  Machine: whatever runs it (the numbers in the
lead's report state it).
"""

from __future__ import annotations

import argparse
import platform
import time

import jax
import numpy as np
import sympy as sp


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--N", type=int, default=1024, help="particles (neurons)")
    p.add_argument("--M", type=int, default=1024, help="data points")
    p.add_argument("--d", type=int, default=8, help="input dimension (sphere S^{d-1})")
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--dtype", choices=["float32", "float64"], default="float64")
    a = p.parse_args(argv)
    jax.config.update("jax_enable_x64", a.dtype == "float64")
    import jax.numpy as jnp

    import mfderive as mf
    from mfderive.derive.domains import Reals, Sphere

    d = a.d
    th = sp.symbols(f"bs_t1:{d + 1}", real=True)
    ws = sp.symbols(f"bs_w1:{d + 1}", real=True)
    xs = sp.symbols(f"bs_x1:{d + 1}", real=True)
    r, amp, ylab = sp.symbols("bs_r bs_a bs_y", real=True)
    nu = mf.Data("bs_nu", (*xs, ylab))
    mu_s = mf.Measure("bs_mu_s", (*th, r), domain=Sphere(d) * Reals(1))
    mu_e = mf.Measure("bs_mu_e", (*ws, amp))
    dot = lambda u: sp.Add(*[ui * xi for ui, xi in zip(u, xs)])  # noqa: E731
    F_s = mf.integral((mf.integral(r * sp.Max(0, dot(th)), mu_s) - ylab) ** 2 / 2, nu)
    F_e = mf.integral((mf.integral(amp * sp.Max(0, dot(ws)), mu_e) - ylab) ** 2 / 2, nu)

    rng = np.random.default_rng(0)
    X = rng.normal(size=(a.M, d)) / np.sqrt(d)
    Y = np.maximum(0, X[:, 0]) - np.maximum(0, -X[:, 1])
    data = {nu: (jnp.asarray(np.column_stack([X, Y]), a.dtype), jnp.full(a.M, 1 / a.M, a.dtype))}
    W = rng.normal(size=(a.N, d))
    A = rng.normal(size=a.N)
    nw = np.linalg.norm(W, axis=1)
    inits = {"S^{d-1} x R": np.column_stack([W / nw[:, None], nw * A]),
             "R^d x R": np.column_stack([W, A])}
    print(f"machine: {platform.machine()} {platform.processor() or ''}, jax {jax.__version__} "
          f"on {jax.devices()[0].platform}; dtype {a.dtype}; N={a.N} M={a.M} d={d} steps={a.steps}")
    for name, flow in (("S^{d-1} x R", mf.WassersteinFlow(F_s, mu_s)),
                       ("R^d x R", mf.WassersteinFlow(F_e, mu_e))):
        init, step, observe = mf.particle_flow(flow, data=data, dt=0.05)
        s0 = init(jnp.asarray(inits[name], a.dtype), 0)
        s, _ = mf.run(step, s0, a.steps, observe, record_every=a.steps)  # warm-up (compiles)
        jax.block_until_ready(s.particles)
        t = time.perf_counter()
        s, tr = mf.run(step, s0, a.steps, observe, record_every=a.steps)
        jax.block_until_ready(s.particles)
        el = time.perf_counter() - t
        E = np.asarray(tr[0]) if isinstance(tr, tuple) else np.asarray(tr["energy"])
        extra = ""
        if name.startswith("S"):
            dev = np.max(np.abs(np.linalg.norm(np.asarray(s.particles)[:, :d], axis=1) - 1))
            extra = f", max ||theta| - 1| = {dev:.2e}"
        print(f"{name:12s}: {a.steps / el:9.1f} steps/s, risk {float(E[-1]):.4g}{extra}")


if __name__ == "__main__":
    main()
