"""Issue 10, D15: the publisher copies into the book only notebooks whose own checks
(read from the check log, not papermill's exit) all passed, and never leaves a page of
an earlier run behind.

The notebooks here are tiny throwaway ones written into ``tmp_path`` and executed by
papermill (one kernel each, about a second); no book is built (``--no-book``)."""

import json
import os

import nbformat
import pytest

from mfderive.publish import book as publish
from mfderive.checks import Check

IMPORT = "from mfderive.checks import check, require_all"
# Each check below compares exact small floats, so a tolerance of 1e-12 separates
# "equal" (error 0) from "different" (error 1) with no rounding question.
NOTEBOOKS = {
    "a_pass.ipynb": [IMPORT, "assert profile == 'quick'\ncheck('one', 'T1', 1.0, 1.0, 1e-12)", "require_all();"],
    # the check fails but require_all() is never called, so papermill finishes cleanly
    "b_silent_fail.ipynb": [IMPORT, "check('off', 'T2', 1.0, 2.0, 1e-12)\ncheck('ok', 'T2', 3.0, 3.0, 1e-12)"],
    "c_raises.ipynb": [IMPORT, "check('fine', 'T3', 1.0, 1.0, 1e-12)", "raise RuntimeError('boom')"],
    "d_no_checks.ipynb": ["x = 1 + 1"],
}


def write_notebook(path, cells):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell('profile = "full"')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params] + [nbformat.v4.new_code_cell(src) for src in cells]
    nbformat.write(nb, str(path))


def publish_run(tmp, notebooks, stale=(), claims=None):
    """Write ``notebooks`` into tmp/src and ``stale`` copies into tmp/dest, run the
    publisher once (against the claim IDs of ``claims``, a CLAIMS.md text; none by
    default); return (exit status, names in dest, report, other files in dest)."""
    src, dest, report = tmp / "src", tmp / "dest", tmp / "_build" / "report.json"
    src.mkdir(parents=True)
    dest.mkdir()
    for name, cells in notebooks.items():
        write_notebook(src / name, cells)
    for name in stale:
        write_notebook(dest / name, ["'page executed by an earlier run'"])
    (dest / "keep.txt").write_text("not the publisher's")
    claims_md = tmp / "CLAIMS.md"
    if claims is not None:
        claims_md.write_text(claims)
    status = publish.main(["--profile", "quick", "--no-book", "--claims", str(claims_md)],
                          src=src, dest=dest, report=report)
    published = sorted(p.name for p in dest.glob("*.ipynb"))
    return status, published, json.loads(report.read_text()), dest


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """One run over a passing, a silently failing, a raising and a check-less notebook,
    with stale copies in the destination (one of a now-failing notebook, one of a
    notebook that no longer exists)."""
    env_before = os.environ.get(publish.CHECKS_ENV)
    out = publish_run(tmp_path_factory.mktemp("mixed"), NOTEBOOKS, stale=("b_silent_fail.ipynb", "z_removed.ipynb"))
    assert os.environ.get(publish.CHECKS_ENV) == env_before  # the publisher restores the environment
    return out


def test_failed_check_without_require_all_is_not_published_and_fails_the_run(mixed):
    status, published, report, _ = mixed
    assert status != 0
    assert "b_silent_fail.ipynb" not in published
    entry = next(n for n in report["notebooks"] if n["notebook"] == "b_silent_fail.ipynb")
    assert entry["seconds"] > 0  # the notebook's own time
    del entry["seconds"]
    assert entry == {"notebook": "b_silent_fail.ipynb", "verified": False, "reason": "failed checks: off"}


def test_stale_copies_from_an_earlier_run_are_removed(mixed):
    _, published, _, dest = mixed
    assert "z_removed.ipynb" not in published
    assert (dest / "keep.txt").exists()  # only the publisher's *.ipynb are cleared


def test_passing_notebook_is_published(mixed):
    _, published, _, dest = mixed
    assert published == ["a_pass.ipynb"]
    executed = nbformat.read(str(dest / "a_pass.ipynb"), as_version=4)
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in executed.cells)


def test_notebook_raising_an_exception_is_not_published(mixed):
    _, published, report, _ = mixed
    assert "c_raises.ipynb" not in published
    entry = next(n for n in report["notebooks"] if n["notebook"] == "c_raises.ipynb")
    assert not entry["verified"] and "RuntimeError" in entry["reason"] and "boom" in entry["reason"]


def test_notebook_without_checks_is_not_published(mixed):
    _, published, report, _ = mixed
    assert "d_no_checks.ipynb" not in published
    entry = next(n for n in report["notebooks"] if n["notebook"] == "d_no_checks.ipynb")
    assert entry["reason"] == "recorded no checks"


def test_report_attributes_each_check_to_its_notebook(mixed):
    _, _, report, _ = mixed
    assert report["profile"] == "quick" and report["passed"] is False and report["date"]
    rows = [(c["notebook"], c["name"], c["claim"], c["verdict"]) for c in report["checks"]]
    assert rows == [
        ("a_pass.ipynb", "one", "T1", "PASS"),
        ("b_silent_fail.ipynb", "off", "T2", "FAIL"),
        ("b_silent_fail.ipynb", "ok", "T2", "PASS"),
        ("c_raises.ipynb", "fine", "T3", "PASS"),
    ]
    off = report["checks"][1]
    assert (off["predicted"], off["measured"], off["tolerance"]) == (1.0, 2.0, 1e-12)


def test_all_verified_run_succeeds(tmp_path):
    only_pass = {"a_pass.ipynb": NOTEBOOKS["a_pass.ipynb"]}
    status, published, report, _ = publish_run(tmp_path, only_pass, stale=("old.ipynb",))
    assert status == 0 and published == ["a_pass.ipynb"] and report["passed"] is True


def test_an_uncovered_claim_sub_part_fails_the_run(tmp_path):
    """Every sub-part ID of CLAIMS.md must be the claim of a check: with T1.1 covered and
    T9.9 not, the run fails (and lists T9.9) unless --allow-uncovered; covered, it passes."""
    nb = {"a_pass.ipynb": [IMPORT, "check('one', 'C1.1', 1.0, 1.0, 1e-12)", "require_all();"]}
    status, _, report, _ = publish_run(tmp_path / "a", nb, claims="- C1.1 a claim. C9.9 another.")
    assert status != 0 and report["uncovered"] == ["C9.9"] and report["coverage"]["C1.1"] == ["one"]
    status, _, report, _ = publish_run(tmp_path / "b", nb, claims="- C1.1 a claim.")
    assert status == 0 and report["uncovered"] == []


def test_empty_source_fails(tmp_path):
    status, published, report, _ = publish_run(tmp_path, {}, stale=("old.ipynb",))
    assert status != 0 and published == [] and report["passed"] is False


def ck(passed, value=1.0):
    return Check("c", "T", 1.0, value, 0.0, passed)


@pytest.mark.parametrize(
    "result, verified",
    [
        (publish.NotebookResult("n", (ck(True),)), True),
        (publish.NotebookResult("n", (ck(True), ck(False))), False),
        (publish.NotebookResult("n", ()), False),
        (publish.NotebookResult("n", (ck(True),), error="cell 3: ValueError: x"), False),
    ],
)
def test_verified_needs_no_error_some_checks_and_all_passed(result, verified):
    assert result.verified is verified


def test_non_finite_values_are_strict_json():
    res = publish.NotebookResult("n", (Check("c", "T", float("nan"), float("inf"), 1e-9, False),))
    row = publish.report_data([res], "quick")["checks"][0]
    assert (row["predicted"], row["measured"]) == ("nan", "inf")
    json.dumps(row, allow_nan=False)


def test_a_run_of_named_notebooks_replaces_only_their_copies(tmp_path):
    """Running one notebook by name keeps the other notebooks' executed copies (another
    run's) and rewrites only its own; the report holds only the notebook run."""
    src, dest, report = tmp_path / "src", tmp_path / "dest", tmp_path / "_build" / "report.json"
    src.mkdir()
    dest.mkdir()
    write_notebook(src / "a_pass.ipynb", NOTEBOOKS["a_pass.ipynb"])
    write_notebook(src / "e_other.ipynb", NOTEBOOKS["a_pass.ipynb"])
    write_notebook(dest / "e_other.ipynb", ["'copy from an earlier run'"])
    write_notebook(dest / "a_pass.ipynb", ["'stale copy'"])
    status = publish.main(["a_pass", "--profile", "quick", "--no-book", "-j", "1"], src=src, dest=dest, report=report)
    assert status == 0
    assert sorted(p.name for p in dest.glob("*.ipynb")) == ["a_pass.ipynb", "e_other.ipynb"]
    assert "stale copy" not in (dest / "a_pass.ipynb").read_text()
    assert [n["notebook"] for n in json.loads(report.read_text())["notebooks"]] == ["a_pass.ipynb"]
