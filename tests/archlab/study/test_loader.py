"""Study names resolve to files in the named study folders and archlab's own; paths name files."""
import pytest

from archlab.study import StudyError, list_studies, load_study


def test_shipped_studies_are_listed_and_load():
    names = list_studies()
    assert {"dapf_vs_aspp", "context_modules", "fusion_modules", "fassd_variants", "seed_zoo"} <= set(names)
    study = load_study("context_modules")
    assert len(study.variants) == 14 and {v.base for v in study.variants} == {"fast_scnn", "fassd_net"}


@pytest.mark.parametrize("name", ["studies.dapf_vs_aspp", "os.path", "..", "DAPF_vs_aspp", ""])
def test_a_name_cannot_reach_outside_studies(name):
    with pytest.raises(StudyError, match="named by its file in studies/"):
        load_study(name)


@pytest.mark.parametrize("path", ["../archlab/train", "/etc/passwd", "dapf_vs_aspp/../x", "missing_study.py"])
def test_a_path_must_be_an_existing_python_file(path):
    with pytest.raises(StudyError, match="does not exist or is not a .py file"):
        load_study(path)


def test_a_study_file_named_by_path_loads_and_its_sibling_modules_import(tmp_path):
    (tmp_path / "my_helpers.py").write_text("BASE = 'fast_scnn'\n")
    (tmp_path / "path_study.py").write_text(
        "from archlab.study import Study, Variant\nfrom my_helpers import BASE\n"
        "STUDY = Study(name='path_study', title='t', base=BASE, variants=(Variant('base'),), baseline='base')\n")
    study = load_study(str(tmp_path / "path_study.py"))
    assert study.name == "path_study" and study.base == "fast_scnn"


def test_a_study_whose_name_is_not_its_file_name_is_refused(tmp_path):
    (tmp_path / "named.py").write_text(
        "from archlab.study import Study, Variant\n"
        "STUDY = Study(name='other', title='t', base='fast_scnn', variants=(Variant('base'),), baseline='base')\n")
    with pytest.raises(StudyError, match="defines a study named 'other'; the names must match"):
        load_study(str(tmp_path / "named.py"))


def test_studies_dirs_come_before_archlabs_own_and_a_missing_folder_is_named(tmp_path, monkeypatch):
    (tmp_path / "dapf_vs_aspp.py").write_text(
        "from archlab.study import Study, Variant\n"
        "STUDY = Study(name='dapf_vs_aspp', title='mine', base='fast_scnn', variants=(Variant('b'),), baseline='b')\n")
    assert load_study("dapf_vs_aspp", studies_dirs=[tmp_path]).title == "mine"
    assert load_study("dapf_vs_aspp").title != "mine"
    monkeypatch.setenv("ARCHLAB_STUDIES", str(tmp_path / "nowhere"))
    with pytest.raises(StudyError, match="ARCHLAB_STUDIES names .*nowhere.*, which is not a folder"):
        load_study("dapf_vs_aspp")


def test_unknown_study_suggests_close_names():
    with pytest.raises(StudyError, match=r"no file studies/dapf_vs_asp\.py\. Did you mean 'dapf_vs_aspp'"):
        load_study("dapf_vs_asp")


def test_a_module_without_a_study_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("ARCHLAB_STUDIES", str(tmp_path))
    (tmp_path / "broken_study.py").write_text("raise RuntimeError('boom')\n")
    (tmp_path / "empty_study.py").write_text("X = 1\n")
    with pytest.raises(StudyError, match=r"study 'broken_study': .*broken_study.py cannot be imported: "
                                         r"RuntimeError: boom"):
        load_study("broken_study")
    with pytest.raises(StudyError, match="defines no STUDY"):
        load_study("empty_study")


def test_list_shows_every_study_when_one_file_is_broken(tmp_path, monkeypatch, capsys):
    from archlab.study.__main__ import main

    monkeypatch.setenv("ARCHLAB_STUDIES", str(tmp_path))
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
    done = subprocess.run([sys.executable, "-m", "archlab.study", "--list"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "INTRUDER RAN" not in done.stderr + done.stdout
    assert "dapf_vs_aspp" in done.stdout
