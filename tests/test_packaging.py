"""The library as a user installs and cites it: the wheel, the command, the metadata.

* ``python -m build`` makes an sdist and a wheel; the wheel installs into a fresh virtual
  environment **without extras**, runs the README's first derivation there, does not
  import JAX on ``import mfderive``, and installs the ``mfderive`` command;
* ``mfderive --help`` (and ``python -m mfderive``) lists the subcommands;
* one version (``pyproject.toml``) reaches ``mfderive.__version__`` and ``CITATION.cff``;
* ``CITATION.cff`` validates against the Citation File Format 1.2.0 JSON schema
  (``tests/data/citation-cff-1.2.0.schema.json``, as shipped in ``cffconvert`` 2.0.0);
* the licence file matches the declared licence.

The fresh environment installs the wheel's dependencies from the package index (or pip's
cache); that step is the one a new user takes, so it is not mocked.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest

import mfderive as mf
from mfderive import cli

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def readme_first_derivation() -> str:
    """The Python block under '## A first derivation' in the README."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## A first derivation", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


# -- metadata ---------------------------------------------------------------------------


def test_version_comes_from_the_package_metadata():
    assert mf.__version__ == version("mfderive") == PYPROJECT["project"]["version"]


def test_supported_versions_are_ranges_without_upper_caps():
    project = PYPROJECT["project"]
    assert project["requires-python"] == ">=3.11"
    for dep in project["dependencies"]:
        assert ">=" in dep and "<" not in dep.replace("<=", ""), dep
    oldest = (ROOT / "requirements" / "oldest.txt").read_text(encoding="utf-8")
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", oldest, re.M))
    # every lower bound of the core dependencies is the version the oldest session pins
    for dep in project["dependencies"]:
        name, low = re.match(r"([A-Za-z0-9_.-]+)>=(\S+)", dep).groups()
        assert pins[name] == low, (name, low, pins.get(name))


def test_citation_cff_is_valid_and_carries_the_version():
    yaml = pytest.importorskip("yaml")
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((ROOT / "tests" / "data" / "citation-cff-1.2.0.schema.json").read_text(encoding="utf-8"))
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker()).validate(cff)
    assert str(cff["version"]) == PYPROJECT["project"]["version"]
    assert cff["license"] == PYPROJECT["project"]["license"]
    titles = " ".join(r["title"] for r in cff["references"])
    assert "Mean-field Langevin dynamics" in titles and "Wasserstein-type gradient flows" in titles


def test_citation_schema_rejects_a_broken_file():
    """The validation above can fail: a reference of an unknown type is refused."""
    yaml = pytest.importorskip("yaml")
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((ROOT / "tests" / "data" / "citation-cff-1.2.0.schema.json").read_text(encoding="utf-8"))
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    cff["references"][0]["type"] = "book-section"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(schema).validate(cff)


def test_licence_file_matches_the_declared_licence():
    assert PYPROJECT["project"]["license"] == "BSD-3-Clause"
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("BSD 3-Clause License")


def test_changelog_has_an_unreleased_section():
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "## [Unreleased]" in text and "Keep a Changelog" in text


# -- the command ------------------------------------------------------------------------


def test_python_m_mfderive_help_lists_the_subcommands():
    out = subprocess.run([sys.executable, "-m", "mfderive", "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    for sub in ("run-notebooks", "report", "bench"):
        assert sub in out.stdout


@pytest.mark.parametrize("sub", ["run-notebooks", "report", "bench"])
def test_each_subcommand_has_help(sub, capsys):
    assert cli.main([sub, "--help"]) == 0
    assert "usage: mfderive " + sub in capsys.readouterr().out


def test_unknown_subcommand_is_a_usage_error(capsys):
    assert cli.main(["frobnicate"]) == 2
    assert "invalid choice" in capsys.readouterr().err


def test_run_notebooks_refuses_an_unknown_notebook_name(capsys):
    assert cli.main(["run-notebooks", "no_such_notebook", "--no-book", "--quiet"]) == 2
    assert "no notebook 'no_such_notebook'" in capsys.readouterr().err


def test_bench_lists_the_benchmark_scripts(capsys):
    assert cli.main(["bench", "--list", "--root", str(ROOT)]) == 0
    out = capsys.readouterr().out
    assert "main" in out and "benchmarks/bench.py" in out


# -- wheel and sdist, installed as a new user would -------------------------------------


@pytest.fixture(scope="module")
def dists(tmp_path_factory):
    """``python -m build`` (sdist, then the wheel from the sdist) into a temporary folder."""
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    wheel = next(out.glob("mfderive-*.whl"))
    sdist = next(out.glob("mfderive-*.tar.gz"))
    return wheel, sdist


def test_wheel_and_sdist_contents(dists):
    wheel, sdist = dists
    names = zipfile.ZipFile(wheel).namelist()
    assert "mfderive/py.typed" in names and "mfderive/cli.py" in names
    assert not any(n.startswith(("tests/", "notebooks/", "benchmarks/")) for n in names)
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "mfderive = mfderive.cli:main" in zipfile.ZipFile(wheel).read(entry).decode()
    assert any(n.endswith("licenses/LICENSE") for n in names)
    members = tarfile.open(sdist).getnames()
    assert any(m.endswith("/LICENSE") for m in members) and any(m.endswith("/pyproject.toml") for m in members)


def test_wheel_installs_without_extras_and_runs_the_first_derivation(dists, tmp_path):
    wheel, _ = dists
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    py = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    inst = subprocess.run([str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(wheel)],
                          capture_output=True, text=True, timeout=900, env=env)
    assert inst.returncode == 0, inst.stderr[-3000:]
    # no optional extra came along
    listed = subprocess.run([str(py), "-m", "pip", "list", "--format=json"], capture_output=True, text=True,
                            timeout=120, env=env)
    have = {p["name"].lower() for p in json.loads(listed.stdout)}
    assert "mfderive" in have and not have & {"papermill", "jupyter-book", "pot", "matplotlib", "pytest"}
    script = (
        "import sys\n"
        "import mfderive\n"
        "assert 'jax' not in sys.modules, 'import mfderive imported JAX'\n"
        + readme_first_derivation()
        + "\nprint('first derivation ok', mfderive.__version__, mfderive.__file__)\n"
    )
    run = subprocess.run([str(py), "-c", script], capture_output=True, text=True, timeout=600,
                         cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "first derivation ok " + PYPROJECT["project"]["version"] in run.stdout
    assert str(venv) in run.stdout  # the installed copy ran, not the source tree
    helped = subprocess.run([str(venv / "bin" / "mfderive"), "--help"], capture_output=True, text=True,
                            timeout=120, cwd=tmp_path, env=env)
    assert helped.returncode == 0 and "run-notebooks" in helped.stdout
