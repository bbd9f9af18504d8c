"""optuna-dashboard (the ``dashboard`` extra) reads a search's storage, archlab's attributes included.

The committed ``reports/search_fassd/study.db`` (a copy: the dashboard must not touch the report)
is served on a loopback port; its HTTP API must list the study with archlab's study attributes
and return every trial with the user attributes archlab wrote: ``spec`` (a JSON string) and
``label`` whole, and ``record`` (a dict) as its JSON cut at the dashboard's 1024-character limit
for dict attributes, so its first fields are readable there and the whole record is in
``--export``'s trials.csv.
"""
import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import optuna
import pytest

ROOT = Path(__file__).parents[3]
#: optuna-dashboard 0.21 shows a dict or list attribute as its JSON cut to this many characters
#: (``_serializer.MAX_ATTR_LENGTH``); strings are shown whole.
DASHBOARD_ATTR_LIMIT = 1024
STUDY_DB = ROOT / "reports" / "search_fassd" / "study.db"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, deadline: float):
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return json.loads(response.read())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def test_the_dashboard_serves_a_search_with_archlabs_attributes(tmp_path):
    pytest.importorskip("optuna_dashboard", reason="the 'dashboard' extra is not installed "
                                                   "(pip install 'archlab[dashboard]'; scripts/setup.sh installs it)")
    db = tmp_path / "study.db"
    shutil.copy(STUDY_DB, db)
    expected = optuna.load_study(study_name="search_fassd", storage=f"sqlite:///{db}").get_trials()
    port = _free_port()
    serve = f"import optuna_dashboard; optuna_dashboard.run_server('sqlite:///{db}', host='127.0.0.1', port={port})"
    server = subprocess.Popen([sys.executable, "-c", serve], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        summaries = _get(f"http://127.0.0.1:{port}/api/studies", deadline)["study_summaries"]
        (summary,) = [s for s in summaries if s["study_name"] == "search_fassd"]
        attrs = {a["key"]: json.loads(a["value"]) for a in summary["user_attrs"]}
        assert attrs["archlab:objectives"]["metric"] == "latency" and "fingerprint" in attrs["archlab:space"]
        study = _get(f"http://127.0.0.1:{port}/api/studies/{summary['study_id']}", deadline)
        trials = {t["number"]: t for t in study["trials"]}
        assert sorted(trials) == [t.number for t in expected]
        for trial in expected:
            shown = {a["key"]: a["value"] for a in trials[trial.number]["user_attrs"]}
            assert set(trial.user_attrs) <= set(shown), trial.number
            assert shown["label"] == trial.user_attrs["label"]
            if "spec" in trial.user_attrs:                 # a string: shown whole, the network's JSON
                assert json.loads(shown["spec"]) == json.loads(trial.user_attrs["spec"])
            if "record" in trial.user_attrs:               # a dict: its JSON, cut at the dashboard's limit
                text = json.dumps(trial.user_attrs["record"])
                assert shown["record"] == text[:DASHBOARD_ATTR_LIMIT]
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
