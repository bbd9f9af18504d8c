import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import optuna
import pytest

from archlab.search import Knob, SearchError, SearchSpace, Slot, load_space, parse_accuracy
from archlab.study import remove, replace as replace_op

sys.path.insert(0, str(Path(__file__).parent))
from search_fixtures import TINY  # noqa: E402


@pytest.fixture(scope="module")
def fassd():
    return load_space("search_fassd", check=False)


def test_search_fassd_loads_and_every_option_builds():
    space = load_space("search_fassd")          # check=True: every slot option at the knob extremes
    assert space.base == "fassd_net" and space.reference_study == "dapf_vs_aspp"
    assert space.constraints == {"params_M": 4.0}
    assert len(space.points()) == (4 + 3) * 2 * 4 * 3    # alpha only with dapf


def test_load_space_errors_name_the_problem():
    with pytest.raises(SearchError, match="does not exist or is not a .py file"):
        load_space("../studies/search_fassd")
    with pytest.raises(SearchError, match="search_fassd"):
        load_space("search_fasd")
    with pytest.raises(SearchError, match="defines no SEARCH"):
        load_space("dapf_vs_aspp", check=False)


def test_suggest_honours_the_condition_and_the_grid(fassd):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = Counter()
    for _ in range(40):
        trial = study.ask()
        params = fassd.suggest(trial)
        assert ("alpha" in params) == (params["context"] == "dapf")
        assert params["width"] in (0.5, 0.75, 1, 1.25) and params["depth"] in (0.5, 1, 1.5)
        assert fassd.check_params(params) == params
        seen[params["context"]] += 1
        study.tell(trial, 0.0)
    assert set(seen) == {"dapf", "aspp", "ppm", "none"}


def test_sample_draws_every_value_about_equally(fassd):
    rng = np.random.default_rng(0)
    draws = [fassd.sample(rng) for _ in range(2000)]
    contexts = Counter(d["context"] for d in draws)
    widths = Counter(d["width"] for d in draws)
    assert set(widths) == {0.5, 0.75, 1, 1.25}
    assert min(contexts.values()) > 2000 / 4 * 0.8 and min(widths.values()) > 2000 / 4 * 0.8
    assert all(("alpha" in d) == (d["context"] == "dapf") for d in draws)
    assert {d["alpha"] for d in draws if "alpha" in d} == {1, 2, 4, 8}
    again = [fassd.sample(np.random.default_rng(0)) for _ in range(1)]
    assert again[0] == draws[0]


def test_spec_is_deterministic_and_applies_slots_then_knobs(fassd):
    p = {"context": "dapf", "fusion": "plain", "width": 0.5, "depth": 1, "alpha": 8}
    a, b = fassd.spec(p, validate=False), fassd.spec(dict(p), validate=False)
    assert a.content_hash() == b.content_hash()
    assert a.name == "search_fassd[context=dapf fusion=plain width=0.5 depth=1 alpha=8]"
    assert not a.find(block="mda")
    assert [n.args["alpha"] for n in a.find(block="dapf")] == [8]
    none = fassd.spec({**{k: v for k, v in p.items() if k != "alpha"}, "context": "none"}, validate=False)
    assert "context" not in {n.id for n in none.nodes}
    wide = fassd.spec({**p, "width": 1.25}, validate=False)
    assert wide.content_hash() != a.content_hash()


@pytest.mark.parametrize("params, where", [
    ({"context": "x", "fusion": "mda", "width": 1, "depth": 1}, "param 'context'"),
    ({"context": "aspp", "fusion": "mda", "width": 1, "depth": 1, "alpha": 2}, "param 'alpha'"),
    ({"context": "aspp", "fusion": "mda", "width": 0.6, "depth": 1}, "param 'width'"),
    ({"context": "aspp", "fusion": "mda", "depth": 1}, "param 'width'"),
    ({"context": "aspp", "fusion": "mda", "width": 1, "depth": 1, "colour": 1}, "colour"),
])
def test_spec_errors_name_the_parameter(fassd, params, where):
    with pytest.raises(SearchError, match=where):
        fassd.spec(params)


def test_check_names_the_slot_and_option_that_do_not_build():
    bad_block = (replace_op("context", block="no_such_block"),)
    broken = replace(TINY, slots=(Slot("context", {"dapf": (), "bad": bad_block}),))
    with pytest.raises(SearchError, match="slot 'context', option 'bad'"):
        broken.check()
    too_thin = replace(TINY, knobs=(Knob("alpha", choices=(2, 4096), when={"context": "dapf"}),))
    with pytest.raises(SearchError, match="option 'dapf', knobs at their highs.*alpha"):
        too_thin.check()


@pytest.mark.parametrize("change, message", [
    ({"knobs": (Knob("colour", choices=(1, 2)),)}, "unknown knob"),
    ({"knobs": (Knob("alpha", choices=(2,), when={"head": "x"}),)}, "names slot 'head'"),
    ({"knobs": (Knob("width", 1.0, 0.5),)}, "low <= high"),
    ({"accuracy": "proxy:foo"}, "valid: miou, proxy:synflow"),
    ({"metric": "energy"}, "unknown metric"),
    ({"constraints": {"watts": 3}}, "unknown constraint"),
    ({"slots": (*TINY.slots, Slot("width", {"a": ()}))}, "unique"),
    ({"slots": (Slot("context", {"none": [remove]}),)}, "transforms"),
])
def test_definition_errors(change, message):
    with pytest.raises(SearchError, match=message):
        replace(TINY, **change).check(build=False)


def test_parse_accuracy_and_fingerprint():
    assert parse_accuracy("miou") == ("miou", None) and parse_accuracy("proxy:snip") == ("proxy", "snip")
    with pytest.raises(ValueError, match="unknown objective 'proxy:foo'; valid: miou, proxy:synflow"):
        parse_accuracy("proxy:foo")
    assert TINY.fingerprint() == replace(TINY, title="other").fingerprint()
    assert TINY.fingerprint() != replace(TINY, knobs=TINY.knobs[:1]).fingerprint()


def test_continuous_knob():
    space = SearchSpace(name="c", title="c", base="fassd_net", knobs=(Knob("width", 0.5, 1.0),))
    p = space.sample(np.random.default_rng(1))
    assert 0.5 <= p["width"] <= 1.0
    with pytest.raises(SearchError, match="outside"):
        space.check_params({"width": 2.0})
    with pytest.raises(SearchError, match="continuous"):
        space.points()


def test_a_space_file_named_by_path_or_folder_loads(tmp_path):
    (tmp_path / "my_space.py").write_text("import dataclasses\nfrom archlab.studies.search_fassd import SEARCH as S\n"
                                          "SEARCH = dataclasses.replace(S, name='my_space')\n")
    assert load_space(str(tmp_path / "my_space.py"), check=False).name == "my_space"
    assert load_space("my_space", check=False, studies_dirs=[tmp_path]).name == "my_space"
