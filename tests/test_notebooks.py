"""The notebooks run top to bottom on a small simulated world, and are stored without outputs.

Each notebook is executed with nbclient in a kernel of this Python environment. Its
parameters cell (tagged ``parameters``) gets the test's values appended in memory, so the
notebooks read the session's world, train a light model, and write only under ``tmp_path``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
WORLD_SEED = 11
# A light model, no backtest folds and no tracking store: the notebooks in seconds. One
# thread: two OpenMP threads crawl when another process holds one of two cores.
OVERRIDES = {
    "model": {"n_estimators": 150, "learning_rate": 0.08, "num_threads": 1},
    "split": {"backtest_cutoffs": 0},
    "tracking": {"enabled": False},
}
# What each notebook must show: text found in its outputs, and the fewest figures it may draw.
EXPECTED = {
    "01-explore-accounts.ipynb": (["accounts", "nrr_pct", "churn_rate", "logins_30d_decile"], 4),
    "02-train-and-evaluate.ipynb": (
        [
            "roc_auc",
            "baseline_rules_roc_auc",
            "baseline_logreg_roc_auc",
            "oracle_roc_auc",
            "logistic regression",
            "mean |contribution|",
        ],
        5,
    ),
    "03-drivers-and-playbooks.ipynb": (
        [
            "priority_rank",
            "arr_at_risk",
            "playbook_id",
            "touch_tier",
            "the playbook matches the true cause",
        ],
        1,
    ),
    "04-outcomes-and-monitoring.ipynb": (
        [
            "churn_difference",
            "more_accounts_needed",
            "true_effect",
            "covered",
            "Verdict at",
            "Verdict on the shifted world",
        ],
        2,
    ),
}
PROBE = "import sys\nimport healthscore\nprint('kernel prefix:', sys.prefix)"


@pytest.fixture(scope="session")
def notebook_world(tmp_path_factory) -> Path:
    """A small simulated world (400 accounts over two years), with its ground truth."""
    from healthscore.pipeline import generate_data

    folder = tmp_path_factory.mktemp("notebook_world") / "data"
    print(f"world seed={WORLD_SEED}")
    generate_data(folder, n_accounts=400, start="2024-01-01", end="2026-01-01", seed=WORLD_SEED)
    return folder


@pytest.fixture(scope="session")
def kernel(tmp_path_factory) -> Iterator[Path]:
    """A ``python3`` kernelspec that starts this interpreter, found before any other one.

    A kernelspec of the same name in the user's Jupyter folders could start another Python;
    this one, first on ``JUPYTER_PATH``, always starts ``sys.executable``.
    """
    from ipykernel.kernelspec import install

    share = tmp_path_factory.mktemp("kernel") / "share" / "jupyter"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUPYTER_PATH", str(share))
        install(user=False, prefix=str(share.parents[1]), kernel_name="python3")
        yield share


def execute(name: str, workdir: Path, **parameters: object) -> nbformat.NotebookNode:
    """Run notebook ``name`` with ``parameters`` in ``workdir``; return it with its outputs."""
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    at = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    values = "\n".join(f"{key} = {value!r}" for key, value in parameters.items())
    nb.cells[at].source += f"\n# values of the test\n{values}\n"
    nb.cells.insert(at + 1, nbformat.v4.new_code_cell(PROBE))
    client = NotebookClient(
        nb, kernel_name="python3", timeout=300, resources={"metadata": {"path": str(workdir)}}
    )
    started = time.perf_counter()
    client.execute()
    print(f"{name}: executed in {time.perf_counter() - started:.1f}s")
    assert f"kernel prefix: {sys.prefix}" in outputs_text(nb.cells[at + 1])
    return nb


def outputs_text(*cells: nbformat.NotebookNode) -> str:
    """The printed and displayed text of ``cells`` (stream, plain, markdown and HTML)."""
    parts = []
    for cell in cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            data = output.get("data", {})
            parts += [data.get(kind, "") for kind in ("text/plain", "text/markdown", "text/html")]
    return "\n".join(parts)


def n_figures(nb: nbformat.NotebookNode) -> int:
    return sum(
        "image/png" in output.get("data", {})
        for cell in nb.cells
        for output in cell.get("outputs", [])
    )


def test_every_notebook_is_tested():
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == sorted(EXPECTED)


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.name)
def test_notebook_is_stored_stripped_and_parameterised(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert path.name[:3].rstrip("-").isdigit(), "notebooks are numbered: 01-..., 02-..."
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.outputs == [] for c in code), f"{path.name} has outputs: strip them"
    assert all(c.execution_count is None for c in code), f"{path.name} has execution counts"
    assert "parameters" in code[0].metadata.get("tags", []), "first code cell: parameters"


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_notebook_runs_on_a_small_world(name, notebook_world, tmp_path, kernel):
    nb = execute(
        name, tmp_path, DATA=str(notebook_world), WORKDIR=str(tmp_path), OVERRIDES=OVERRIDES
    )
    texts, figures = EXPECTED[name]
    shown = outputs_text(*nb.cells)
    missing = [text for text in texts if text not in shown]
    assert not missing, f"{name} did not show {missing}"
    assert n_figures(nb) >= figures


@pytest.mark.slow
def test_notebook_simulates_a_world_without_demo_data(tmp_path, kernel):
    nb = execute(
        "01-explore-accounts.ipynb",
        tmp_path,
        WORKDIR=str(tmp_path),
        OVERRIDES=OVERRIDES,
        ACCOUNTS=150,
        SEED=WORLD_SEED,
    )
    assert (tmp_path / "data" / "notebook-world" / "_truth").is_dir()
    assert "no demo data" in outputs_text(*nb.cells)
