"""Workers die with their parent, kill -9 included (archlab/workers.py)."""
import os
import signal
import subprocess
import sys
import time

PARENT = """
import multiprocessing, os, sys, time

def child(parent_pid):
    from archlab.workers import die_with_parent
    die_with_parent(parent_pid)
    time.sleep(120)

if __name__ == "__main__":
    p = multiprocessing.get_context("spawn").Process(target=child, args=(os.getpid(),))
    p.start()
    print(p.pid, flush=True)
    time.sleep(120)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:           # a zombie is dead, only not yet reaped
        return f.read().split(")")[-1].split()[0] != "Z"


def test_a_worker_dies_when_its_parent_is_killed_with_sigkill(tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    time.sleep(2.0)                                  # the child is armed
    assert _alive(child)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.time() + 10
    while _alive(child) and time.time() < deadline:
        time.sleep(0.2)
    assert not _alive(child), "the worker outlived its killed parent"
