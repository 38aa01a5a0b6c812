"""Every notebook under notebooks/ runs headless: marimo ones export and lint clean, Jupyter
ones execute through nbclient. Notebooks are found by file, so new ones are tested as added.

The ``*_harness_*`` tests feed the same checks a notebook that is broken on purpose, to prove
each check can fail (a notebook test that cannot fail would pass vacuously).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# `marimo_notebook` and `jupyter_notebook` are parametrized by conftest.pytest_generate_tests.


def tail(text: str, n: int = 40) -> str:
    return "\n".join(text.strip().splitlines()[-n:])


@pytest.fixture
def export_html(marimo_cli) -> Callable[..., tuple[int, str]]:
    """``export_html(nb, out, *args)`` = ``marimo export html nb -o out --no-sandbox -- <args>``."""

    def run(notebook: Path, out: Path, *args: str) -> tuple[int, str]:
        cmd = ["export", "html", str(notebook), "-o", str(out), "--no-sandbox", "--force"]
        r = marimo_cli(*cmd, *(["--", *args] if args else []))
        return r.returncode, r.stdout + r.stderr

    return run


@pytest.fixture
def check(marimo_cli) -> Callable[[Path], tuple[int, str]]:
    """``marimo check --strict``: warnings count as failures, so "clean" means no diagnostics."""

    def run(notebook: Path) -> tuple[int, str]:
        r = marimo_cli("check", "--strict", str(notebook), timeout=120)
        return r.returncode, r.stdout + r.stderr

    return run


# ---------------------------------------------------------------- marimo notebooks

@pytest.mark.slow
def test_marimo_notebook_exports_in_smoke_mode(marimo_notebook: Path, tmp_path: Path, export_html) -> None:
    out = tmp_path / f"{marimo_notebook.stem}.html"
    code, output = export_html(marimo_notebook, out, "--smoke")
    assert code == 0, f"marimo export html failed for {marimo_notebook} (a cell raised?):\n{tail(output)}"
    assert out.stat().st_size > 1000


def test_marimo_notebook_check_is_clean(marimo_notebook: Path, check) -> None:
    code, output = check(marimo_notebook)
    assert code == 0, f"marimo check --strict {marimo_notebook}:\n{tail(output)}"


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
def test_export_harness_fails_on_a_cell_error_and_passes_smoke(tmp_path: Path, export_html) -> None:
    """The notebook above raises only when it receives --smoke: so a zero exit without the flag
    and a non-zero exit with it prove both that errors fail the export and that the flag arrives."""
    nb = tmp_path / "smoke_probe.py"
    nb.write_text(BROKEN_MARIMO)
    code, output = export_html(nb, tmp_path / "plain.html")
    assert code == 0, tail(output)
    code, output = export_html(nb, tmp_path / "smoke.html", "--smoke")
    assert code != 0, "a cell error must make `marimo export html` exit non-zero"


@pytest.mark.slow
def test_check_harness_flags_a_redefined_name(tmp_path: Path, check) -> None:
    clean = tmp_path / "clean.py"
    clean.write_text(BROKEN_MARIMO)  # fails only at run time with --smoke; statically clean
    code, output = check(clean)
    assert code == 0, tail(output)
    nb = tmp_path / "redefined.py"
    nb.write_text(BROKEN_MARIMO.replace("    assert not smoke", "    smoke = 1\n    assert not smoke")
                  .replace("def _(smoke):", "def _():"))
    code, output = check(nb)
    assert code != 0 and "multiple-definitions" in output


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


def execute(notebook: Path, kernel: str) -> object:
    """Run every cell of ``notebook`` in a fresh kernel from its own folder; raise on a cell error."""
    return execute_in(notebook, kernel, notebook.parent)


def execute_in(notebook: Path, kernel: str, folder: Path) -> object:
    """Run every cell of ``notebook`` in a fresh kernel whose working directory is ``folder``."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(notebook, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name=kernel, resources={"metadata": {"path": str(folder)}}).execute()
    return nb


@pytest.mark.slow
def test_jupyter_notebook_executes(jupyter_notebook: Path, jupyter_kernel: str,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABKIT_SMOKE", "1")  # the kernel inherits it; a notebook has no command line
    execute(jupyter_notebook, jupyter_kernel)


@pytest.mark.slow
def test_jupyter_lab_buttons_fine_tune_save_and_report(jupyter_kernel: str, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The JupyterLab twin's action buttons (``lk.app(lab)``'s last section), clicked in the kernel after Run All."""
    import nbformat

    monkeypatch.setenv("LABKIT_SMOKE", "1")
    lab_nb = Path(__file__).resolve().parents[2] / "notebooks" / "jupyter" / "lab.ipynb"
    nb = nbformat.read(lab_nb, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(f"""
actions = app.sections["actions"]
actions.folder.value = {str(tmp_path)!r}
actions.epochs.value = 2
for name in ("finetune", "save", "report"):
    actions.buttons[name].click()
    print(name, "->", actions.result.value)
"""))
    copy = tmp_path / "lab.ipynb"
    nbformat.write(nb, copy)
    nb = execute_in(copy, jupyter_kernel, lab_nb.parent)
    printed = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
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
def test_jupyter_harness_runs_this_venv_and_fails_on_error(tmp_path: Path, jupyter_kernel: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from nbclient.exceptions import CellExecutionError

    monkeypatch.setenv("LABKIT_SMOKE", "1")
    ok = _write_ipynb(tmp_path / "ok.ipynb", "import os, sys, labkit\nprint(sys.prefix, os.environ['LABKIT_SMOKE'])")
    nb = execute(ok, jupyter_kernel)
    assert nb.cells[0].outputs[0]["text"].split() == [sys.prefix, "1"]
    bad = _write_ipynb(tmp_path / "bad.ipynb", "raise ValueError('broken on purpose')")
    with pytest.raises(CellExecutionError, match="broken on purpose"):
        execute(bad, jupyter_kernel)


def test_private_kernelspec_points_at_this_venv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fallback used where ``python3`` resolves to another Python: a kernelspec in a tmp prefix."""
    path = install_kernelspec(tmp_path)
    spec = json.loads((path / "kernels" / "python3" / "kernel.json").read_text())
    assert spec["argv"][0] == sys.executable
    monkeypatch.setenv("JUPYTER_PATH", str(path))
    assert kernel_python() == sys.executable


@pytest.mark.slow
def test_lab_opens_on_the_model_and_dataset_given_after_dashes(tmp_path: Path, export_html) -> None:
    """`marimo export notebooks/lab.py -- --model M --dataset D` (what `labkit lab` passes) opens the lab on them."""
    lab = Path(__file__).resolve().parents[2] / "notebooks" / "lab.py"
    out = tmp_path / "lab.html"
    code, output = export_html(lab, out, "--smoke", "--model", "resnet20", "--dataset", "digits-lt", "--data-seed", "0")
    assert code == 0, f"the lab failed with --model/--dataset (a cell raised?):\n{tail(output)}"
    page = out.read_text()
    # the header cell prints the arguments it was opened with; no cell stopped on bad arguments
    assert "--model resnet20 --dataset digits-lt --data-seed 0 --smoke" in page, "the header does not name the arguments"
