"""``--devices``: parsing with errors that name the entry, round-robin slots, disjoint CPU core shares."""
import os
import subprocess
import sys

import pytest

from archlab.devices import DeviceError, Slot, claim_slot, parse_devices, slot_for


def test_lists_are_parsed_and_checked():
    assert parse_devices("cpu:0, CPU:1") == ["cpu:0", "cpu:1"]
    assert parse_devices(None) == [] and parse_devices("") == []
    for text, says in (("cpu:0,cuda", "mixes cpu and cuda"), ("tpu:0", "is not a device"),
                       ("cpu:0,cpu:3", "numbered 0..1")):
        with pytest.raises(DeviceError, match=says):
            parse_devices(text)


def test_cuda_indices_must_exist_here():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this check is about a machine with fewer GPUs than asked for; this one has CUDA")
    with pytest.raises(DeviceError, match="no CUDA device"):
        parse_devices("cuda:0")


def test_workers_take_slots_round_robin_and_cpu_shares_are_disjoint():
    assert slot_for([], 3) is None
    assert [slot_for(["cuda:0", "cuda:1"], i).name for i in range(4)] == ["cuda:0", "cuda:1", "cuda:0", "cuda:1"]
    assert slot_for(["cuda:1"], 0) == Slot("cuda:1", "cuda")
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        pytest.skip("one core: no two shares")
    a, b = (slot_for(["cpu:0", "cpu:1"], i) for i in range(2))
    assert a.kind == b.kind == "cpu" and a.threads == len(a.cores) == len(cores) // 2
    assert not set(a.cores) & set(b.cores) and set(a.cores) | set(b.cores) <= set(cores)


def test_claiming_a_cpu_slot_pins_the_process():
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        pytest.skip("one core: nothing to pin apart")
    slot = slot_for(["cpu:0", "cpu:1"], 1)
    code = ("import os, torch, sys; from archlab.devices import Slot, claim_slot; "
            f"print(claim_slot(Slot('cpu:1', 'cpu', {slot.cores!r}, {slot.threads})), "
            "sorted(os.sched_getaffinity(0)), torch.get_num_threads())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == "cpu" and " ".join(out[1:-1]) == str(list(slot.cores)) and int(out[-1]) == slot.threads
    assert claim_slot(None) is None
