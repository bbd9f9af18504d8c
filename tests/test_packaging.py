"""The installed distribution: one import name, and the README's own block and study run from a wheel.

Builds a wheel of this checkout, installs it (no dependencies: they come from the running
environment through ``--system-site-packages``) into a fresh virtual environment, writes the
README's "Your own block and study" example into a folder outside the repository and runs
``python -m archlab.study my_study.py --no-train`` there.
"""
import re
import shutil
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _readme_example() -> dict[str, str]:
    """The files of the README's "Your own block and study" section: name -> code."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Your own block and study", 1)[1].split("\n## ", 1)[0]
    return dict(re.findall(r"`(\w+\.py)`[^\n]*:\n\n```python\n(.*?)```", section, flags=re.S))


def test_every_package_of_the_tree_is_installed_and_no_generic_top_level_name():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed, mapped = set(config["packages"]), config["package-dir"]
    assert {p.split(".")[0] for p in listed} == {"archlab"}
    tree = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "archlab").rglob("__init__.py")}
    tree |= {name for name, folder in mapped.items() if (ROOT / folder / "__init__.py").is_file()}
    assert tree == listed


def test_the_readme_example_runs_from_a_wheel_outside_the_repository(tmp_path):
    example = _readme_example()
    assert set(example) == {"my_blocks.py", "my_study.py"}
    source = tmp_path / "source"          # a copy: building must not write into the checkout
    for part in ("archlab", "blocks", "studies"):
        shutil.copytree(ROOT / part, source / part, ignore=shutil.ignore_patterns("__pycache__"))
    for part in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / part, source / part)
    wheels = tmp_path / "wheels"
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                           "-w", str(wheels), str(source)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    wheel = next(wheels.glob("archlab-*.whl"))
    names = subprocess.run([sys.executable, "-m", "zipfile", "-l", str(wheel)], capture_output=True,
                           text=True).stdout
    assert "archlab/blocks/conv.py" in names and "archlab/studies/dapf_vs_aspp.py" in names
    assert not re.search(r"^\s*(blocks|studies)/", names, flags=re.M)

    env = tmp_path / "venv"
    venv.create(env, system_site_packages=True, with_pip=False)
    python = env / "bin" / "python"
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q",
                           str(wheel)], capture_output=True, text=True, timeout=300)
    if "no such option: --python" in done.stderr:
        pytest.fail("pip >= 22.3 is needed (pip --python)")
    assert done.returncode == 0, done.stderr

    user = tmp_path / "my_repo"
    user.mkdir()
    for name, code in example.items():
        (user / name).write_text(code)
    where = subprocess.run([str(python), "-c", "import archlab; print(archlab.__file__)"], cwd=user,
                           capture_output=True, text=True, timeout=120)
    assert str(env) in where.stdout, where.stdout + where.stderr    # the wheel, not the checkout
    done = subprocess.run([str(python), "-m", "archlab.study", "my_study.py", "--no-train"], cwd=user,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    table = (user / "reports" / "my_study" / "table.md").read_text()
    assert "| ECA |" in table and "| PPM (Fast-SCNN) |" in table
    listed = subprocess.run([str(python), "-m", "archlab.study", "--list"], cwd=user, capture_output=True,
                            text=True, timeout=300)
    assert "dapf_vs_aspp" in listed.stdout and "seed_zoo" in listed.stdout
