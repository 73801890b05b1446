"""The README's Python example runs as it is shown, from a scratch directory that has the
bundled data at tests/data."""
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def test_readme_python_example(tmp_path):
    with open(os.path.join(HERE, "..", "..", "README.md"), encoding="utf-8") as f:
        blocks = re.findall(r"```python\n(.*?)```", f.read(), flags=re.S)
    assert blocks, "README.md has no ```python block"
    (tmp_path / "tests").mkdir()
    os.symlink(os.path.abspath(os.path.join(HERE, "..", "data")), tmp_path / "tests" / "data")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    run = subprocess.run([sys.executable, "-c", blocks[0]], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert "held-out accuracy" in run.stdout
    assert (tmp_path / "churn.tmlp").exists()
