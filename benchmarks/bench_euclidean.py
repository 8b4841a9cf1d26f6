"""Benchmark: gradient flows on R^d (mfderive.simulate.euclidean), steps per second.

    python benchmarks/bench_euclidean.py [--dims 2 16 64] [--steps 2000] [--dtype float64]

F(x) = sum_i (x_i^4/4 + x_i^2/2) + sum_i x_i x_{i+1}/4 + sum_i sin(x_i)/2 (SymPy, compiled by
mf.compile), tau = 0.01, x0 = 1.  Each scheme runs `steps` steps through mfderive.run
(lax.scan) after one identical warm-up run (compilation excluded).  Prints
steps/s, the mean inner L-BFGS optimality residual of the proximal step, and the
machine.  Results are machine-dependent; record them in benchmarks/README.md with the
machine line printed here.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dims", type=int, nargs="+", default=[2, 16, 64])
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--tau", type=float, default=0.01)
    p.add_argument("--dtype", choices=["float32", "float64"], default="float64")
    a = p.parse_args(argv)
    jax.config.update("jax_enable_x64", a.dtype == "float64")
    import jax.numpy as jnp
    import sympy as sp

    from mfderive.flows.euclidean import EuclideanFlow
    from mfderive.simulate.euclidean import exact_gradient_flow, gradient_descent, proximal_point
    from mfderive.simulate.loop import run

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"jax {jax.__version__} on {jax.devices()[0].platform}, dtype {a.dtype}, tau {a.tau}")
    print(f"{'d':>5} {'scheme':>10} {'steps/s':>12} {'max residual':>14}")
    for d in a.dims:
        xs = sp.symbols(f"bx0:{d}", real=True)
        F = sum(x**4 / 4 + x**2 / 2 + sp.sin(x) / 2 for x in xs) + sum(xs[i] * xs[i + 1] for i in range(d - 1)) / 4
        flow = EuclideanFlow(F, xs)
        x0 = jnp.ones((d,), dtype=a.dtype)
        for name, scheme in [("gd", gradient_descent), ("prox", proximal_point), ("exact", exact_gradient_flow)]:
            kw = {"tol": 1e-9 if a.dtype == "float64" else 1e-3} if scheme is proximal_point else {}
            init, step, observe = scheme(flow, tau=a.tau, **kw)
            steps = a.steps
            s, _ = run(step, init(x0), steps, observe, record_every=steps)  # compile, warm up
            jax.block_until_ready(s.x)
            t = time.perf_counter()
            s, trace = run(step, init(x0), steps, observe, record_every=steps)
            jax.block_until_ready(s.x)
            dt = time.perf_counter() - t
            print(f"{d:>5} {name:>10} {steps / dt:>12.0f} {float(trace['residual'].max()):>14.2e}")


if __name__ == "__main__":
    main()
