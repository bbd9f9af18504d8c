from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from archlab.data import DataError, get_dataset
from archlab.data.camvid import CAMVID_NAMES, CAMVID_PALETTE
from archlab.data.trees import write_camvid_tree


@pytest.fixture
def tree(tmp_path):
    return write_camvid_tree(tmp_path / "camvid", splits={"train": 5, "val": 2, "test": 1}, seed=2)


def annot(name: str) -> Path:
    p = Path(name)
    return p.parent.parent / f"{p.parent.name}annot" / p.name


def test_classes_follow_segnet_order_and_camvid_colours():
    assert CAMVID_NAMES == ("Sky", "Building", "Pole", "Road", "Pavement", "Tree", "SignSymbol", "Fence", "Car",
                            "Pedestrian", "Bicyclist")
    assert CAMVID_PALETTE.shape == (11, 3) and CAMVID_PALETTE.dtype == np.uint8
    assert CAMVID_PALETTE[3].tolist() == [128, 64, 128] and CAMVID_PALETTE[8].tolist() == [64, 0, 128]
    assert len({tuple(c) for c in CAMVID_PALETTE.tolist()}) == 11


def test_lengths_sorting_names_and_attributes(tree):
    ds = get_dataset("camvid", "train", root=tree)
    assert [len(get_dataset("camvid", s, root=tree)) for s in ("train", "val", "test")] == [5, 2, 1]
    names = [ds[i].name for i in range(len(ds))]
    assert [Path(n).name for n in names] == sorted(p.name for p in (tree / "train").glob("*.png"))
    assert all(Path(n).parent == tree / "train" for n in names)
    assert (ds.name, ds.num_classes, ds.eval_classes, ds.class_names) == ("camvid", 11, tuple(range(11)), CAMVID_NAMES)


def test_labels_keep_classes_and_void_becomes_255(tree):
    sample = get_dataset("camvid", "val", root=tree)[0]
    raw = np.asarray(Image.open(annot(sample.name)))
    assert set(np.unique(raw)) == set(range(12))
    assert sample.image.shape == (60, 80, 3) and sample.image.dtype == np.uint8
    assert np.array_equal(sample.label[raw < 11], raw[raw < 11])
    assert (sample.label[raw == 11] == 255).all()


def test_255_is_accepted_as_void(tree):
    ds = get_dataset("camvid", "test", root=tree)
    raw = np.asarray(Image.open(annot(ds[0].name))).copy()
    raw[:2] = 255
    Image.fromarray(raw).save(annot(ds[0].name))
    assert (ds[0].label[:2] == 255).all()


def test_missing_root_and_split(tmp_path, tree):
    with pytest.raises(DataError, match="nope does not exist") as err:
        get_dataset("camvid", "train", root=tmp_path / "nope")
    assert err.value.dataset == "camvid" and "trainannot/" in str(err.value)
    (tree / "test" / next((tree / "test").iterdir()).name).unlink()
    (tree / "test").rmdir()
    with pytest.raises(DataError) as err:
        get_dataset("camvid", "test", root=tree)
    assert str(tree / "test") in str(err.value) and "splits found under" in str(err.value)
    assert "train, val" in str(err.value)
    with pytest.raises(DataError, match="valid: train, val, test"):
        get_dataset("camvid", "trainval", root=tree)


def test_missing_annot_dir_and_file(tree):
    name = get_dataset("camvid", "train", root=tree)[3].name
    annot(name).unlink()
    with pytest.raises(DataError) as err:
        get_dataset("camvid", "train", root=tree)
    assert f"image {name} has no label: expected {annot(name)}" in str(err.value)
    for p in (tree / "valannot").iterdir():
        p.unlink()
    (tree / "valannot").rmdir()
    with pytest.raises(DataError, match="valannot is missing"):
        get_dataset("camvid", "val", root=tree)


def test_no_images(tmp_path):
    (tmp_path / "train").mkdir()
    with pytest.raises(DataError, match="no images in") as err:
        get_dataset("camvid", "train", root=tmp_path)
    assert str(tmp_path / "train") in str(err.value)


def test_bad_labels_are_reported_on_load(tree):
    ds = get_dataset("camvid", "train", root=tree)
    values, colour, small = (annot(ds[i].name) for i in range(3))
    raw = np.asarray(Image.open(values)).copy()
    raw[0, :3] = [12, 40, 200]
    Image.fromarray(raw).save(values)
    Image.new("RGB", (80, 60)).save(colour)
    Image.new("L", (40, 30)).save(small)
    with pytest.raises(DataError, match=r"holds values \[12, 40, 200\]") as err:
        ds[0]
    assert str(values) in str(err.value)
    with pytest.raises(DataError, match="mode 'RGB'") as err:
        ds[1]
    assert str(colour) in str(err.value)
    with pytest.raises(DataError, match="is 30x40 but its image") as err:
        ds[2]
    assert str(small) in str(err.value)
