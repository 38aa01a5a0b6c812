"""The README's Python examples run as written (those that need downloaded data are only compiled)."""
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
NEEDS_FILES = ("~/data", "pretrained=True)          # from the local torch cache")


def test_readme_has_python_examples():
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index, tmp_path, monkeypatch):
    code = BLOCKS[index]
    compiled = compile(code, f"README.md python block {index}", "exec")
    if any(marker in code for marker in NEEDS_FILES):
        pytest.skip("needs downloaded data or weights; compiled only")
    monkeypatch.chdir(tmp_path)  # examples that save files write them here
    import labkit as lk

    namespace: dict = {"lk": lk}  # blocks continue the first one's `import labkit as lk`
    if "lab." in code and "lab =" not in code:  # a block continuing the one that made `lab`
        namespace["lab"] = lk.Lab("resnet20", "digits-lt")
    exec(compiled, namespace)
