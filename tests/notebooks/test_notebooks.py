"""Every notebook under notebooks/ runs headless: marimo ones export and lint clean, Jupyter
ones execute through nbclient. Notebooks are found by file, so new ones are tested as added.

The ``*_harness_*`` tests feed the same checks a notebook that is broken on purpose, to prove
each check can fail (a notebook test that cannot fail would pass vacuously).
"""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .conftest import check_notebooks, export_html, tail

# `marimo_notebook` and `jupyter_notebook` are parametrized by conftest.pytest_generate_tests.


@pytest.mark.slow
def test_marimo_notebook_exports_in_smoke_mode(marimo_notebook: Path, smoke_export) -> None:
    run = smoke_export(marimo_notebook)  # shared with test_export, which freezes the lab's page
    assert run.code == 0, f"marimo export html failed for {marimo_notebook} (a cell raised?):\n{tail(run.output)}"
    assert run.page.stat().st_size > 1000


def test_marimo_notebook_check_is_clean(marimo_notebook: Path, notebook_checks) -> None:
    problems = notebook_checks[marimo_notebook.resolve()]  # one `marimo check --strict` for all of them
    assert not problems, f"marimo check --strict {marimo_notebook}:\n" + "\n".join(problems)


BROKEN_MARIMO = '''import marimo

__generated_with = "0.25.2"
app = marimo.App()


@app.cell
def _():
    import marimo as mo
    smoke = "smoke" in mo.cli_args()  # cli_args() parses `-- --smoke` into {"smoke": ""}
    return (smoke,)


@app.cell
def _(smoke):
    assert not smoke, "smoke flag reached the notebook"
    return


if __name__ == "__main__":
    app.run()
'''


@pytest.mark.slow
def test_export_harness_fails_on_a_cell_error_and_passes_smoke(tmp_path: Path) -> None:
    """The notebook above raises only when it receives --smoke: so a zero exit without the flag
    and a non-zero exit with it prove both that errors fail the export and that the flag arrives."""
    nb = tmp_path / "smoke_probe.py"
    nb.write_text(BROKEN_MARIMO)
    run = export_html(nb, tmp_path / "plain.html")
    assert run.code == 0, tail(run.output)
    run = export_html(nb, tmp_path / "smoke.html", "--smoke")
    assert run.code != 0, "a cell error must make `marimo export html` exit non-zero"


@pytest.mark.slow
def test_check_harness_flags_a_redefined_name_in_its_own_file(tmp_path: Path) -> None:
    """Checked together, as the notebooks are: the clean file stays clean, the broken one is flagged."""
    clean = tmp_path / "clean.py"
    clean.write_text(BROKEN_MARIMO)  # fails only at run time with --smoke; statically clean
    nb = tmp_path / "redefined.py"
    nb.write_text(BROKEN_MARIMO.replace("    assert not smoke", "    smoke = 1\n    assert not smoke")
                  .replace("def _(smoke):", "def _():"))
    found = check_notebooks([clean, nb])
    assert found[clean.resolve()] == []
    assert len(found[nb.resolve()]) == 1 and "multiple-definitions" in found[nb.resolve()][0], found


# ---------------------------------------------------------------- Jupyter notebooks

def install_kernelspec(prefix: Path) -> Path:
    """Install a ``python3`` kernelspec for *this* interpreter under ``prefix``; return its JUPYTER_PATH."""
    subprocess.run([sys.executable, "-m", "ipykernel", "install", "--prefix", str(prefix), "--name", "python3"],
                   check=True, capture_output=True, text=True, timeout=120)
    return prefix / "share" / "jupyter"


def kernel_python(name: str = "python3") -> str:
    """The interpreter a kernel name starts (jupyter_client swaps a bare ``python`` for sys.executable)."""
    from jupyter_client.kernelspec import KernelSpecManager

    exe = KernelSpecManager().get_kernel_spec(name).argv[0]
    major, minor = sys.version_info[:2]
    return sys.executable if exe in {"python", f"python{major}", f"python{major}.{minor}"} else exe


def _prefix_of(exe: str) -> str:
    out = subprocess.run([exe, "-c", "import sys; print(sys.prefix)"], capture_output=True, text=True, timeout=60)
    return out.stdout.strip()


@pytest.fixture(scope="module")
def jupyter_kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A kernel name that starts this venv's Python, installing a private kernelspec if needed."""
    from jupyter_client.kernelspec import NoSuchKernel

    try:
        resolves = _prefix_of(kernel_python()) == sys.prefix
    except (NoSuchKernel, OSError):
        resolves = False
    if resolves:
        yield "python3"
        return
    path = install_kernelspec(tmp_path_factory.mktemp("kernels"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JUPYTER_PATH", f"{path}{os.pathsep}{os.environ.get('JUPYTER_PATH', '')}")
        yield "python3"


class KernelRun:
    """A notebook run through, cell by cell, in a kernel that stays up: more code can run after Run All.

    ``KernelRun(notebook, kernel, stack, LABKIT_SMOKE="1")`` starts a fresh kernel whose working
    directory is the notebook's folder and whose environment adds the keywords; the kernel stops
    when ``stack`` closes.
    """

    def __init__(self, notebook: Path, kernel: str, stack: contextlib.ExitStack, **env: str) -> None:
        import nbformat
        from nbclient import NotebookClient

        self.nb = nbformat.read(notebook, as_version=4)
        self.client = NotebookClient(self.nb, timeout=600, kernel_name=kernel,
                                     resources={"metadata": {"path": str(notebook.parent)}})
        stack.enter_context(self.client.setup_kernel(env={**os.environ, **env}))

    def run_all(self) -> KernelRun:
        """Run every cell in order; raise ``CellExecutionError`` at the first cell that fails."""
        for index, cell in enumerate(self.nb.cells):
            self.client.execute_cell(cell, index)
        return self

    def run(self, source: str) -> str:
        """Run ``source`` as one more cell in the same kernel (raise on error); return what it printed."""
        import nbformat

        cell = nbformat.v4.new_code_cell(source)
        self.nb.cells.append(cell)
        self.client.execute_cell(cell, len(self.nb.cells) - 1)
        return "".join(o.get("text", "") for o in cell.outputs)


@pytest.fixture(scope="module")
def run_all(jupyter_kernel: str) -> Iterator[Callable[[Path], KernelRun]]:
    """``run_all(notebook)``: the notebook's cells run in order in smoke mode (``LABKIT_SMOKE=1``, which
    the kernel inherits: a notebook has no command line), once per module. The kernel stays up
    until the module ends, so a later test can click the app's buttons after this Run All
    instead of running the notebook again. A run that failed fails every test that asks for it."""
    runs: dict[Path, KernelRun | BaseException] = {}
    with contextlib.ExitStack() as kernels:
        def get(notebook: Path) -> KernelRun:
            notebook = notebook.resolve()
            if notebook not in runs:
                try:
                    runs[notebook] = KernelRun(notebook, jupyter_kernel, kernels, LABKIT_SMOKE="1").run_all()
                except Exception as e:  # noqa: BLE001 - raised again for every test that asks
                    runs[notebook] = e
            run = runs[notebook]
            if isinstance(run, BaseException):
                raise run
            return run

        yield get


LAB_IPYNB = Path(__file__).resolve().parents[2] / "notebooks" / "jupyter" / "lab.ipynb"


@pytest.mark.slow
def test_jupyter_notebook_executes(jupyter_notebook: Path, run_all) -> None:
    run_all(jupyter_notebook)


@pytest.mark.slow
def test_jupyter_lab_buttons_fine_tune_save_and_report(run_all, tmp_path: Path) -> None:
    """The JupyterLab twin's action buttons (``lk.app(lab)``'s last section), clicked in the kernel after Run All."""
    printed = run_all(LAB_IPYNB).run(f"""
actions = app.sections["actions"]
actions.folder.value = {str(tmp_path)!r}
actions.epochs.value = 2
for name in ("finetune", "save", "report"):
    actions.buttons[name].click()
    print(name, "->", actions.result.value)
""")
    assert "finetune -> after 2 epochs: balanced" in printed, printed
    assert "save -> saved masks and plan" in printed and (tmp_path / "magnitude-global-0.50" / "plan.json").exists()
    assert "report -> wrote" in printed and (tmp_path / "report.html").exists()


def _write_ipynb(path: Path, *sources: str) -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


@pytest.mark.slow
def test_jupyter_harness_runs_this_venv_and_fails_on_error(tmp_path: Path, jupyter_kernel: str) -> None:
    """One kernel: the first cell runs in this venv with smoke mode on, the second raises and must fail the run."""
    from nbclient.exceptions import CellExecutionError

    nb = _write_ipynb(tmp_path / "probe.ipynb", "import os, sys, labkit\nprint(sys.prefix, os.environ['LABKIT_SMOKE'])",
                      "raise ValueError('broken on purpose')", "print('not reached')")
    with contextlib.ExitStack() as stack:
        run = KernelRun(nb, jupyter_kernel, stack, LABKIT_SMOKE="1")
        with pytest.raises(CellExecutionError, match="broken on purpose"):
            run.run_all()
    assert run.nb.cells[0].outputs[0]["text"].split() == [sys.prefix, "1"]
    assert run.nb.cells[2].outputs == []  # the run stopped at the error


def test_private_kernelspec_points_at_this_venv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fallback used where ``python3`` resolves to another Python: a kernelspec in a tmp prefix."""
    path = install_kernelspec(tmp_path)
    spec = json.loads((path / "kernels" / "python3" / "kernel.json").read_text())
    assert spec["argv"][0] == sys.executable
    monkeypatch.setenv("JUPYTER_PATH", str(path))
    assert kernel_python() == sys.executable


@pytest.mark.slow
def test_lab_opens_on_the_model_and_dataset_given_after_dashes(tmp_path: Path) -> None:
    """`marimo export notebooks/lab.py -- --model M --dataset D` (what `labkit lab` passes) opens the lab on them."""
    lab = Path(__file__).resolve().parents[2] / "notebooks" / "lab.py"
    out = tmp_path / "lab.html"
    run = export_html(lab, out, "--smoke", "--model", "resnet20", "--dataset", "digits-lt", "--data-seed", "0")
    assert run.code == 0, f"the lab failed with --model/--dataset (a cell raised?):\n{tail(run.output)}"
    page = out.read_text()
    # the header cell prints the arguments it was opened with; no cell stopped on bad arguments
    assert "--model resnet20 --dataset digits-lt --data-seed 0 --smoke" in page, "the header does not name the arguments"
