"""The deployment-runtime checks (runtime_checks.py), run in a process of their own.

ONNX Runtime and OpenVINO start native thread pools when loaded. In one long pytest process that
later forks and runs many PyTorch tests, loading them crashed the process (a segmentation fault
far from the runtime tests), so the checks run in a child pytest and this test fails with their
output when any of them fails.
"""
import subprocess
import sys
from pathlib import Path


def test_runtime_checks_pass_in_their_own_process():
    here = Path(__file__).resolve().parent
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(here / "runtime_checks.py")],
                          cwd=here.parents[2], capture_output=True, text=True, timeout=1500)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "failed" not in done.stdout
