"""Distributed particles (issue 15, goal 3): every particle simulator run with its particles
split over 4 devices gives the single-device run, and ``sharding=`` refuses what it cannot
place.

The 4 devices are host (CPU) devices, which exist only if
``XLA_FLAGS=--xla_force_host_platform_device_count=4`` is set before JAX starts, so the
comparison runs in one subprocess (``sharding_cases.py``, all cases, compiled once each).
The expectation is independent of the sharding code: the same simulator with
``sharding=None``, on one device."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest
import sympy as sp
from jax.sharding import Mesh, NamedSharding, PartitionSpec

import mfderive as mf
from mfderive.errors import SimulationInputError
from mfderive.simulate.sharding import PARTICLE_AXIS, particle_mesh, particle_sharding

CASES = [
    "particle_flow", "particle_flow chunked", "particle_flow chunked data", "particle_flow weighted",
    "particle_flow signed", "particle_flow sphere", "birth_death_flow", "ascent_descent", "rho_h_flow", "rho_h_flow chunked",
]

#: XLA flags of the subprocess: 4 host devices, and the plain (not concurrency-optimised)
#: CPU scheduler: with the default one, independent all-gathers of one step may start in a
#: different order on different host devices and deadlock on a 2-core machine (measured with
#: jax 0.10.2: the MFLD step with a pair term hung in 2 runs of 2)
HOST_FLAGS = "--xla_force_host_platform_device_count=4 --xla_cpu_enable_concurrency_optimized_scheduler=false"


@pytest.fixture(scope="module")
def four_devices():
    env = dict(os.environ, XLA_FLAGS=HOST_FLAGS, JAX_ENABLE_X64="1", JAX_PLATFORMS="cpu")
    script = Path(__file__).with_name("sharding_cases.py")
    proc = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_sharded_runs_are_the_single_device_runs(four_devices):
    assert four_devices["devices"] == 4
    assert sorted(four_devices["cases"]) == sorted(CASES)
    for name, r in four_devices["cases"].items():
        # float64, 4 steps (and the trace) of N = 64: splitting a sum over the particles into
        # 4 partial sums reorders it, a relative change of a few eps per sum (measured
        # 2e-16 .. 3e-15); 1e-12 leaves room for that growing over the steps, while any
        # misplaced row or a missing term would differ at O(1)
        assert r["rel"] <= 1e-12, (name, r["rel"])
        # every particle array of the final state is split: 4 devices, 4 distinct row blocks
        assert r["layout"] and all(lay == [4, 4] for lay in r["layout"]), (name, r["layout"])


def test_chunked_points_are_evaluated_on_their_own_devices(four_devices):
    # mf.compile evaluates more points than chunk_size in strided blocks (block j: rows j,
    # nb + j, ...), so each block is split over the devices as the particles are and each
    # device maps over its own rows.  With a drift that needs no other particle (a potential
    # from the data), the sharded chunked step then has no collective at all and each device
    # holds a quarter of the temporaries (measured 0.26x).  With contiguous blocks (before),
    # the blocks were gathered: 1 all-gather of the (4, 16, 4) blocked particles and 1.1x the
    # single-device temporaries per device, every device evaluating every block.  0.5 leaves
    # room for the few replicated scalars and buffers whose size does not divide by 4.
    r = four_devices["cases"]["particle_flow chunked data"]
    assert r["gathers"] == 0, r
    assert r["temp_ratio"] <= 0.5, r
    # The MFLD drift (f_mu(x) on the data and a pair term) needs the other particles: its
    # atom scans (integrals accumulated over blocks of atoms) still gather them, but the
    # points are no longer evaluated on every device: per-device temporaries 1.42x those of
    # one device at N = 64 (2.22x with contiguous blocks); 1.8 lies between the two
    r = four_devices["cases"]["particle_flow chunked"]
    assert r["temp_ratio"] <= 1.8, r


def test_uneven_particle_counts_are_refused_naming_both_counts(four_devices):
    errs = four_devices["errors"]
    for name, count in [("particle_flow 63", 63), ("ascent_descent y 30", 30), ("rho_h_flow 6", 6)]:
        assert errs[name] is not None, name
        kind, message = errs[name]
        assert kind == "SimulationInputError", (name, kind, message)
        assert f"{count} particles" in message and "4 devices" in message, message


# -- on the one device of this process ---------------------------------------------------
u = sp.Symbol("shd_u", real=True)
MU = mf.Measure("shd_mu", (u,))
s = sp.Symbol("shd_sigma", positive=True)
OU = mf.WassersteinFlow(mf.integral(u**2 / 2, MU), MU, noise=s)


@pytest.mark.parametrize("bad", ["all", 4, 1.0, jax.devices()[0], [jax.devices()[0]],
                                 jax.sharding.SingleDeviceSharding(jax.devices()[0])])
def test_sharding_of_the_wrong_type_is_refused(bad):
    with pytest.raises(SimulationInputError, match="sharding= must be None, True"):
        mf.particle_flow(OU, values={s: 0.5}, sharding=bad)


def test_a_sharding_of_a_later_axis_is_refused():
    mesh = Mesh(np.asarray(jax.devices()[:1], dtype=object), ("a",))
    with pytest.raises(SimulationInputError, match="particle \\(first\\) axis only"):
        mf.birth_death_flow(mf.UnbalancedFlow(mf.integral(u**2 / 2, MU), MU, sp.Integer(1)),
                            sharding=NamedSharding(mesh, PartitionSpec(None, "a")))


def test_every_accepted_form_places_the_state_and_keeps_it():
    mesh = particle_mesh()
    forms = [True, mesh, NamedSharding(mesh, PartitionSpec(PARTICLE_AXIS)), particle_sharding(mesh)]
    X0 = np.linspace(-1, 1, 8)
    init1, step1, _ = mf.particle_flow(OU, values={s: 0.5}, dt=0.1)
    ref, _ = mf.run(step1, init1(X0, 3), 3)
    for form in forms:
        init, step, _ = mf.particle_flow(OU, values={s: 0.5}, dt=0.1, sharding=form)
        st, _ = mf.run(step, init(X0, 3), 3)
        assert isinstance(st.particles.sharding, NamedSharding)
        assert st.particles.sharding.spec == PartitionSpec(PARTICLE_AXIS)
        # one device: the same arithmetic, bit for bit
        np.testing.assert_array_equal(np.asarray(st.particles), np.asarray(ref.particles))
    assert particle_sharding(None) is None and particle_sharding(False) is None
