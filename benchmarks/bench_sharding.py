r"""``python benchmarks/bench_sharding.py --N 16384 --M 4096 --d 16 --steps 10 --devices 1 2 4 --interleave``

Strong scaling of the MFLD particle step with its particles split over devices
(``mf.particle_flow(..., sharding=mesh)``, :mod:`mfderive.simulate.sharding`): the problem of
``bench.py mfld`` (two-layer tanh network, neurons :math:`(w, a\in\mathbb R^d, b)`, MSE on
:math:`M` data points, penalty, noise, confinement; the same ``_problem`` and constants), at
fixed :math:`N` over 1, 2, 4 devices.

On the CPU the devices are host devices: each count runs in its own Python process with
``XLA_FLAGS=--xla_force_host_platform_device_count=k`` (and
``--xla_cpu_enable_concurrency_optimized_scheduler=false``, without which independent
collectives can deadlock on host devices; see the README, "Distributed particles").  Host
devices share the machine's cores, so they cannot run faster than the cores allow: on a
2-core machine nothing beyond 2 devices can speed up.  ``--platform gpu`` uses the lent
accelerators in one process (meshes over the first k of ``jax.devices()``).

For each k: ``steps/s`` of ``mf.run(step, state, steps)`` (one ``lax.scan``; best of
``--repeat`` timed calls after the compiling one), the speed-up over k = 1, the per-device
temporary memory of one compiled step (``compiled.memory_analysis().temp_size_in_bytes``),
the collectives in the compiled step (no :math:`N\times M` array is ever gathered: only
the :math:`M` values :math:`f_\mu(x_m)` are all-reduced), and the largest relative
difference of the final particles from the k = 1 run (same key, same noise: the PRNG is
partitionable).  Prints a Markdown table.  Separate processes see the machine's load at
different times; ``--interleave`` also times every count in one process with
``max(--devices)`` host devices (meshes over the first k), in alternating rounds, so the
speed-ups of that second table are ratios taken under the same load.

``--chunk C [--pair]`` (e.g. ``--chunk 512 --pair --N 4096 --M 1024 --d 4 --dtype float64
--devices 1 2 --steps 2``) times instead the step with ``chunk_size=C`` (points and
integrals over the particles evaluated in blocks of C), optionally with an interaction
term, on one device and on ``max(--devices)`` host devices, in one process, in alternating
rounds; it prints seconds per step, the ratio, the per-device temporaries, the all-gathers
of each compiled step and the difference of the final particles.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time

import numpy as np

HOST_FLAGS = "--xla_cpu_enable_concurrency_optimized_scheduler=false"


def _collectives(hlo: str) -> str:
    """``op shape ×count`` of the collectives in compiled HLO text."""
    found = collections.Counter(re.findall(
        r"= (\S+?)(?:\{[^}]*\})? (all-gather|all-reduce|all-to-all|collective-permute|reduce-scatter)(?:-start)?\(", hlo))
    return ", ".join(f"{op} {shape} ×{n}" for (shape, op), n in sorted(found.items(), key=lambda x: x[0][1])) or "none"


def _simulator(args, devices, chunk_size=None, pair=False):
    """``(init, step)`` of the MFLD particles of ``bench.generated_step`` split over
    ``devices`` (no sharding for one), and the initial particles; ``pair`` adds the
    interaction energy :math:`\frac1{10}\iint e^{-(w-w')^2-(b-b')^2}\,d\mu\,d\mu`
    (an N×N pair sum, whose drift gathers the positions)."""
    import jax.numpy as jnp

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from bench import DT, SIGMA, _problem, mfld_flow

    import mfderive as mf

    N, M, d, dtype = args.N, args.M, args.d, args.dtype
    flow, nu, sigma = mfld_flow(d, pair)  # the flow of bench.generated_step
    P, X, tt = _problem(N, M, d, dtype)
    data = np.concatenate([X, tt[:, None]], axis=1)
    wts = np.full(M, 1.0 / M, dtype)
    sharding = mf.particle_mesh(devices) if len(devices) > 1 else None
    init, step, _ = mf.particle_flow(flow, data={nu: (jnp.asarray(data), jnp.asarray(wts))},
                                     values={sigma: SIGMA}, dt=DT, chunk_size=chunk_size,
                                     sharding=sharding)
    return init, step, P


def _timed(step, state, steps):
    import jax

    import mfderive as mf

    t0 = time.perf_counter()
    out, _ = mf.run(step, state, steps)
    jax.block_until_ready(out)
    return time.perf_counter() - t0, out


def interleaved(args):
    """All device counts in one process (meshes over the first k host devices), timed in
    rounds k = 1, 2, 4, 1, 2, 4, ... so that the machine's load hits every count alike."""
    import jax

    sims = {}
    for k in args.devices:
        devices = jax.devices()[:k]
        with jax.default_device(devices[0]):
            init, step, P = _simulator(args, devices)
            state = init(P, jax.random.PRNGKey(0))
            _timed(step, state, args.steps)  # compile
        sims[k] = (step, state)
    best = {k: float("inf") for k in sims}
    for _ in range(args.repeat):
        for k, (step, state) in sims.items():
            best[k] = min(best[k], _timed(step, state, args.steps)[0])
    print(f"interleaved in one process with {len(jax.devices())} host devices, best of {args.repeat} rounds:")
    print("| devices | steps/s | speed-up |")
    print("|---|---|---|")
    k0 = args.devices[0]
    for k in sims:
        print(f"| {k} | {args.steps / best[k]:.2f} | {best[k0] / best[k]:.2f} |")


def chunked(args):
    """``--chunk C``: the step with ``chunk_size=C`` (its drift evaluated in blocks of C
    points, ``lax.map`` in ``mf.compile``) on one device and split over ``max(--devices)``
    host devices, in one process, timed in alternating rounds; with the all-gathers and the
    per-device temporaries of each compiled step, and the relative difference of the final
    particles."""
    import jax

    k = max(args.devices)
    rows = {}
    for n_dev in (1, k):
        devices = jax.devices()[:n_dev]
        with jax.default_device(devices[0]):
            init, step, P = _simulator(args, devices, chunk_size=args.chunk, pair=args.pair)
            state = init(P, jax.random.PRNGKey(0))
            compiled = jax.jit(step).lower(state).compile()
            hlo = compiled.as_text()
            _, out = _timed(step, state, args.steps)  # compile
        rows[n_dev] = dict(step=step, state=state, out=out, best=float("inf"),
                           temp=compiled.memory_analysis().temp_size_in_bytes,
                           gathers=len(re.findall(r" all-gather(?:-start)?\(", hlo)),
                           colls=_collectives(hlo))
    for _ in range(args.repeat):
        for r in rows.values():
            r["best"] = min(r["best"], _timed(r["step"], r["state"], args.steps)[0])
    ref = np.asarray(rows[1]["out"].particles, dtype=np.float64)
    diff = float(np.max(np.abs(np.asarray(rows[k]["out"].particles, dtype=np.float64) - ref)) / np.max(np.abs(ref)))
    print(f"chunk_size = {args.chunk}{', pair term' if args.pair else ''}; one process with "
          f"{len(jax.devices())} host devices, best of {args.repeat} rounds; jax {jax.__version__}")
    print("| devices | s / step | vs 1 device | temp MiB / device | all-gathers | collectives in one step |")
    print("|---|---|---|---|---|---|")
    for n_dev, r in rows.items():
        print(f"| {n_dev} | {r['best'] / args.steps:.3f} | {rows[1]['best'] / r['best']:.2f}× | "
              f"{r['temp'] / 2**20:.1f} | {r['gathers']} | {r['colls']} |")
    print(f"final particles: rel. diff. {diff:.1e} from 1 device")


def worker(args, k, out_path):
    """One device count: time the sharded step, write the final particles, print JSON."""
    import jax

    devices = jax.devices()[:k]
    assert len(devices) == k, f"asked for {k} devices, have {len(jax.devices())}"
    with jax.default_device(devices[0]):
        init, step, P = _simulator(args, devices)
        state = init(P, jax.random.PRNGKey(0))
        compiled = jax.jit(step).lower(state).compile()
        temp = compiled.memory_analysis().temp_size_in_bytes
        colls = _collectives(compiled.as_text())
        compile_s, out = _timed(step, state, args.steps)
        best = float("inf")
        for _ in range(args.repeat):
            dt, out = _timed(step, state, args.steps)
            best = min(best, dt)
    np.save(out_path, np.asarray(out.particles))
    print(json.dumps({"k": k, "steps_per_s": args.steps / best, "compile_s": compile_s,
                      "temp_bytes": temp, "collectives": colls,
                      "blocks": len({s.index[0].start for s in out.particles.addressable_shards}),
                      "device": devices[0].device_kind, "backend": jax.default_backend(),
                      "jax": jax.__version__}))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--N", type=int, default=16384)
    ap.add_argument("--M", type=int, default=4096)
    ap.add_argument("--d", type=int, default=16)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    ap.add_argument("--devices", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--platform", choices=("cpu", "gpu"), default="cpu")
    ap.add_argument("--interleave", action="store_true",
                    help="also time every count in one process (host devices), in rounds")
    ap.add_argument("--chunk", type=int, default=None,
                    help="time the chunked step (chunk_size) on 1 and max(--devices) host devices")
    ap.add_argument("--pair", action="store_true", help="add a pair (interaction) term")
    ap.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker is not None:
        if args.dtype == "float64":
            import jax

            jax.config.update("jax_enable_x64", True)
        if args.worker == 0:
            interleaved(args)
        elif args.worker == -1:
            chunked(args)
        else:
            worker(args, args.worker, args.out)
        return 0
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"N = {args.N}, M = {args.M}, d = {args.d}, {args.dtype}, {args.steps} steps per timed run, "
          f"best of {args.repeat}; {time.strftime('%Y-%m-%d')}", flush=True)
    if args.chunk is not None:  # one process with max(--devices) host devices
        env = dict(os.environ, JAX_PLATFORMS="cpu")
        env["XLA_FLAGS"] = f"{env.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={max(args.devices)} {HOST_FLAGS}".strip()
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", "-1", "--devices", *map(str, args.devices),
               "--N", str(args.N), "--M", str(args.M), "--d", str(args.d), "--steps", str(args.steps),
               "--repeat", str(args.repeat), "--dtype", args.dtype, "--chunk", str(args.chunk)]
        proc = subprocess.run(cmd + (["--pair"] if args.pair else []), env=env, capture_output=True, text=True)
        print(proc.stdout.strip() if proc.returncode == 0 else proc.stderr[-3000:])
        return proc.returncode
    rows, finals = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for k in args.devices:
            env = dict(os.environ)
            if args.platform == "cpu":
                env["JAX_PLATFORMS"] = "cpu"
                env["XLA_FLAGS"] = f"{env.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={k} {HOST_FLAGS}".strip()
            out = os.path.join(tmp, f"k{k}.npy")
            cmd = [sys.executable, os.path.abspath(__file__), "--worker", str(k), "--out", out,
                   "--N", str(args.N), "--M", str(args.M), "--d", str(args.d), "--steps", str(args.steps),
                   "--repeat", str(args.repeat), "--dtype", args.dtype]
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if proc.returncode:
                print(proc.stderr[-3000:], file=sys.stderr)
                return proc.returncode
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            finals[k] = np.load(out).astype(np.float64)
            rows.append(r)
            print(f"  k = {k}: {r['steps_per_s']:.2f} steps/s, temp {r['temp_bytes'] / 2**20:.1f} MiB/device", flush=True)
    base = rows[0]
    ref = finals[base["k"]]
    print(f"backend {base['backend']} ({base['device']}), jax {base['jax']}")
    print()
    print("| devices | steps/s | speed-up | temp MiB / device | temp ratio | rel. diff. | collectives in one step |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        diff = float(np.max(np.abs(finals[r["k"]] - ref)) / np.max(np.abs(ref)))
        print(f"| {r['k']} ({r['blocks']} blocks) | {r['steps_per_s']:.2f} | {r['steps_per_s'] / base['steps_per_s']:.2f} | "
              f"{r['temp_bytes'] / 2**20:.1f} | {r['temp_bytes'] / base['temp_bytes']:.2f} | {diff:.1e} | {r['collectives']} |")
    if args.interleave and args.platform == "cpu":
        print()
        env = dict(os.environ, JAX_PLATFORMS="cpu")
        env["XLA_FLAGS"] = f"{env.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={max(args.devices)} {HOST_FLAGS}".strip()
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", "0", "--devices", *map(str, args.devices),
               "--N", str(args.N), "--M", str(args.M), "--d", str(args.d), "--steps", str(args.steps),
               "--repeat", str(args.repeat), "--dtype", args.dtype]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        print(proc.stdout.strip() if proc.returncode == 0 else proc.stderr[-3000:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
