"""Study names resolve to files in studies/ and nowhere else."""
import pytest

from archlab.study import StudyError, list_studies, load_study


def test_shipped_studies_are_listed_and_load():
    names = list_studies()
    assert {"dapf_vs_aspp", "context_modules", "fusion_modules", "fassd_variants", "seed_zoo"} <= set(names)
    study = load_study("context_modules")
    assert len(study.variants) == 14 and {v.base for v in study.variants} == {"fast_scnn", "fassd_net"}


@pytest.mark.parametrize("name", ["../archlab/train", "/etc/passwd", "studies.dapf_vs_aspp", "os.path",
                                  "..", "dapf_vs_aspp/../x", "DAPF_vs_aspp", ""])
def test_a_name_cannot_reach_outside_studies(name):
    with pytest.raises(StudyError, match="named by its file in studies/"):
        load_study(name)


def test_unknown_study_suggests_close_names():
    with pytest.raises(StudyError, match=r"no file studies/dapf_vs_asp\.py\. Did you mean 'dapf_vs_aspp'"):
        load_study("dapf_vs_asp")


def test_a_module_without_a_study_is_refused(tmp_path, monkeypatch):
    import studies

    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(studies, "__path__", [*studies.__path__, str(tmp_path)])
    (tmp_path / "broken_study.py").write_text("raise RuntimeError('boom')\n")
    (tmp_path / "empty_study.py").write_text("X = 1\n")
    with pytest.raises(StudyError, match=r"study 'broken_study': studies/broken_study.py cannot be imported: "
                                         r"RuntimeError: boom"):
        load_study("broken_study")
    with pytest.raises(StudyError, match="defines no STUDY"):
        load_study("empty_study")


def test_list_shows_every_study_when_one_file_is_broken(tmp_path, monkeypatch, capsys):
    import studies

    from archlab.study.__main__ import main

    monkeypatch.setattr(studies, "__path__", [*studies.__path__, str(tmp_path)])
    (tmp_path / "broken_study.py").write_text("raise RuntimeError('boom')\n")
    assert main(["--list"]) == 0
    out = capsys.readouterr().out
    assert "dapf_vs_aspp" in out and "seed_zoo" in out
    assert "broken_study       (broken)" in out and "RuntimeError: boom" in out


def test_a_strangers_studies_folder_in_the_working_directory_is_never_imported(tmp_path):
    import subprocess
    import sys

    (tmp_path / "studies").mkdir()
    (tmp_path / "studies" / "__init__.py").write_text("raise SystemExit('INTRUDER RAN')\n")
    (tmp_path / "studies" / "dapf_vs_aspp.py").write_text("raise SystemExit('INTRUDER RAN')\n")
    done = subprocess.run([sys.executable, "-m", "archlab.study", "dapf_vs_aspp", "--no-train"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "INTRUDER RAN" not in done.stderr + done.stdout
    assert "shadows archlab's own" in done.stderr
