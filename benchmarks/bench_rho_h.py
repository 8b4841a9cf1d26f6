r"""``python benchmarks/bench_rho_h.py --n 256 1024 4096 --system 1d 2d --steps 50``

The :math:`(\rho,H)` chaos particles of Fernández-Real & Figalli (2022, Prop. 3.3) at
realistic width (issue 12, claim C11.2): for each ``n``, in a fresh Python process (no
cache of SymPy, :func:`mfderive.compile` or JAX shared between sizes),

* ``set-up s``: :func:`mfderive.rho_h_flow` (lifting, code generation, tracing) plus
  ``init_fn`` and the first RK4 step, XLA compilation included;
* ``steps/s``: ``mf.run(step, state, steps)`` (``lax.scan``), timed on its second call,
  so compilation is excluded.

The set-up does not depend on ``n``; a step costs :math:`O(nM)` for the data terms and
:math:`O(n^2)` for an interaction (a nested integral against :math:`\rho`).  ``--chunk``
passes ``chunk_size`` (memory of the pairwise terms bounded by chunk × n).  Optionally
``--grid`` also times :func:`mfderive.simulate.rho_h_grid.rho_h_grid_flow` (separated and
transported systems) on 1-D grids of those sizes.

Systems (those of ``benchmarks/rho_h_setup.py``): ``1d``,
:math:`G = \frac12\int_D(\int H(\theta)e^{-(\theta-x)^2}d\rho - \sin 2x)^2 + \int\frac1{20}(H^2+\theta^2)d\rho`
with an 8-point Gauss–Legendre rule for :math:`D`; ``2d``, a :math:`\tanh` data fit on two
variables plus the interaction :math:`\frac14\iint H(\xi)H(\zeta)e^{-|\xi-\zeta|^2}d\rho\,d\rho`.
Dtype float64 by default (``--dtype float32``).  Prints the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def one(n: int, system: str, dtype: str, steps: int, chunk: int | None) -> dict:
    import jax

    jax.config.update("jax_enable_x64", dtype == "float64")
    import numpy as np

    import mfderive as mf
    from rho_h_setup import _system

    G, rho, H, data = _system(system)
    flow = mf.RhoHFlow(G, rho, H, "chaos")
    t0 = time.perf_counter()
    init, step, obs = mf.rho_h_flow(flow, np.full(n, 1.0 / n), data, dt=1e-3, chunk_size=chunk)
    theta = jax.random.normal(jax.random.PRNGKey(0), (n,) if rho.dim == 1 else (n, rho.dim), dtype=dtype)
    h = jax.random.normal(jax.random.PRNGKey(1), (n,), dtype=dtype)
    s = step(init(theta, h))
    jax.block_until_ready(s)
    t1 = time.perf_counter()
    s, _ = mf.run(step, s, steps, obs, record_every=steps)  # compile the scan
    jax.block_until_ready(s)
    t2 = time.perf_counter()
    s, tr = mf.run(step, s, steps, obs, record_every=steps)
    jax.block_until_ready(s)
    t3 = time.perf_counter()
    return {"n": n, "setup_s": t1 - t0, "steps_per_s": steps / (t3 - t2), "scan_compile_s": t2 - t1,
            "energy": float(tr["energy"][-1]), "device": str(jax.devices()[0]), "dtype": str(s.h.dtype)}


def one_grid(n: int, variant: str, dtype: str, steps: int) -> dict:
    import jax

    jax.config.update("jax_enable_x64", dtype == "float64")
    import jax.numpy as jnp
    import numpy as np

    import mfderive as mf
    from mfderive.simulate.rho_h_grid import rho_h_grid_flow
    from rho_h_setup import _system

    G, rho, H, data = _system("1d")
    g = mf.Grid(-3, 3, n)
    t0 = time.perf_counter()
    init, step, obs = rho_h_grid_flow(mf.RhoHFlow(G, rho, H, variant), g, data, dt=0.2 * g.h[0])
    m = g.gaussian([0.0], [0.5])
    s = step(init(jnp.asarray(m / g.integrate(m), dtype), jnp.asarray(np.cos(g.axes[0]), dtype)))
    jax.block_until_ready(s)
    t1 = time.perf_counter()
    s, _ = mf.run(step, s, steps)
    jax.block_until_ready(s)
    t2 = time.perf_counter()
    s, _ = mf.run(step, s, steps)
    jax.block_until_ready(s)
    t3 = time.perf_counter()
    return {"n": n, "setup_s": t1 - t0, "steps_per_s": steps / (t3 - t2), "scan_compile_s": t2 - t1,
            "energy": 0.0, "device": str(jax.devices()[0]), "dtype": str(s.H.dtype)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="(rho, H) chaos particles: set-up and steps/s against n")
    ap.add_argument("--n", type=int, nargs="+", default=[256, 1024, 4096])
    ap.add_argument("--system", nargs="+", choices=["1d", "2d"], default=["1d", "2d"])
    ap.add_argument("--dtype", choices=["float32", "float64"], default="float64")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--chunk", type=int, default=None)
    ap.add_argument("--grid", action="store_true", help="also time the grid simulator (1-D grids of n cells)")
    ap.add_argument("--one", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one is not None:
        kind, n = args.one[0], int(args.one[1])
        if kind.startswith("grid-"):
            r = one_grid(n, kind[5:], args.dtype, args.steps)
        else:
            r = one(n, kind, args.dtype, args.steps, args.chunk)
        print(json.dumps(r))
        return 0
    import jax
    import sympy

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"python {platform.python_version()}, jax {jax.__version__}, sympy {sympy.__version__}")
    print(f"dtype: {args.dtype}, sizes n = {args.n}, {args.steps} RK4 steps timed (lax.scan), "
          f"chunk_size = {args.chunk}")
    kinds = list(args.system) + (["grid-separated", "grid-transported"] if args.grid else [])
    print(f"{'system':>17} {'n':>6} {'set-up s':>9} {'scan compile s':>15} {'steps/s':>10}")
    for kind in kinds:
        for n in args.n:
            cmd = [sys.executable, __file__, "--one", kind, str(n), "--dtype", args.dtype,
                   "--steps", str(args.steps)] + (["--chunk", str(args.chunk)] if args.chunk else [])
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            print(f"{kind:>17} {n:>6} {r['setup_s']:>9.2f} {r['scan_compile_s']:>15.2f} "
                  f"{r['steps_per_s']:>10.1f}   ({r['device']}, {r['dtype']})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
