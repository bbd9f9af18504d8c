"""Files several processes write: atomic replacement, locks, clear errors (archlab/files.py)."""
import subprocess
import sys

import pandas as pd
import pytest

from archlab.files import CorruptFileError, atomic_write, read_csv, restore_integers

WRITERS = {
    "update_csv": """
import sys
import pandas as pd
from archlab.files import update_csv
path, who = sys.argv[1], sys.argv[2]
for i in range(150):
    row = pd.DataFrame([{"writer": who, "i": i}])
    update_csv(path, lambda old: row if old is None else pd.concat([old, row], ignore_index=True))
""",
    "study ResultsFile": """
import sys
from pathlib import Path
from archlab.study.runner import ResultsFile
path, who = Path(sys.argv[1]), sys.argv[2]
results = ResultsFile(path)
names = [f"{who}{i}" for i in range(150)]
for name in names:
    results.put(name, {"variant": name, "writer": who}, names)
""",
    "profile report": """
import sys
from pathlib import Path
from archlab.profile.__main__ import _append_csv
path, who = Path(sys.argv[1]), sys.argv[2]
for i in range(150):
    _append_csv(path, {"model": f"{who}{i}", "writer": who, "size": "1x3x8x8"}, {"model": f"{who}{i}"})
""",
    "proxy samples": """
import sys
from archlab.proxies.correlation import SamplesFile
path, who = sys.argv[1], sys.argv[2]
samples = SamplesFile(path)
for i in range(150):
    samples.put(f"{who}{i}", {"spec_hash": f"{who}{i}", "writer": who})
""",
}


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_two_processes_appending_150_rows_each_keep_all_300(tmp_path, writer):
    path = tmp_path / "shared.csv"
    procs = [subprocess.Popen([sys.executable, "-c", WRITERS[writer], str(path), who], stderr=subprocess.PIPE,
                              text=True) for who in "ab"]
    errors = [p.communicate(timeout=600)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), errors
    frame = pd.read_csv(path)
    assert len(frame) == 300 and frame.groupby("writer").size().to_dict() == {"a": 150, "b": 150}
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*.tmp"))


def test_atomic_write_leaves_no_temporary_file_on_failure(tmp_path):
    class Boom:
        pass
    with pytest.raises(TypeError):
        atomic_write(tmp_path / "x.txt", Boom())
    assert list(tmp_path.iterdir()) == []


def test_read_csv_names_the_file_and_the_way_past_it(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(CorruptFileError, match=r"empty.csv cannot be read as a CSV table .*: delete it"):
        read_csv(tmp_path / "empty.csv")
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    with pytest.raises(CorruptFileError, match=r"other.csv has no column\(s\) \['variant'\]"):
        read_csv(tmp_path / "other.csv", required=("variant",))


def test_restore_integers_only_touches_whole_numbers_with_gaps():
    frame = pd.DataFrame({"steps": [30.0, None], "lr": [0.05, None], "full": [1.0, 2.0]})
    fixed = restore_integers(frame)
    assert str(fixed["steps"].dtype) == "Int64" and fixed["lr"].dtype.kind == "f" and fixed["full"].dtype.kind == "f"
