from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from archlab.data import CITYSCAPES_NAMES, DataError, get_dataset
from archlab.data.cityscapes import ID_TO_TRAINID
from archlab.data.trees import write_cityscapes_tree

# Train id of label ids 0..33, written out from the cityscapesScripts table (Cordts et al. 2016).
EXPECTED = [255] * 7 + [0, 1, 255, 255, 2, 3, 4, 255, 255, 255, 5, 255, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
                        255, 255, 16, 17, 18]


@pytest.fixture
def tree(tmp_path):
    return write_cityscapes_tree(tmp_path / "cs", splits={"train": 4, "val": 2}, size=(32, 64), seed=1)


def label_path(image_name: str, suffix="_gtFine_labelIds.png") -> Path:
    return Path(image_name.replace("leftImg8bit", "gtFine", 1).replace("_leftImg8bit.png", suffix))


def test_lut_is_the_official_table():
    assert ID_TO_TRAINID[:34].tolist() == EXPECTED
    assert (ID_TO_TRAINID[34:] == 255).all()
    assert sorted(set(EXPECTED) - {255}) == list(range(19))


def test_lengths_sorting_names_and_attributes(tree):
    train, val = get_dataset("cityscapes", "train", root=tree), get_dataset("cityscapes", "val", root=tree)
    assert (len(train), len(val)) == (4, 2)
    names = [train[i].name for i in range(len(train))]
    rel = [Path(n).relative_to(tree / "leftImg8bit" / "train").as_posix() for n in names]
    assert rel == sorted(rel) and len({r.split("/")[0] for r in rel}) == 3  # several cities, sorted
    assert all(n.endswith("_leftImg8bit.png") and Path(n).is_file() for n in names)
    assert (train.name, train.split, train.num_classes, train.ignore_index) == ("cityscapes", "train", 19, 255)
    assert train.class_names == CITYSCAPES_NAMES and train.palette.shape == (19, 3)
    assert train.eval_classes == tuple(range(19))


def test_label_ids_map_to_train_ids_on_known_pixels(tree):
    ds = get_dataset("cityscapes", "val", root=tree)
    sample = ds[1]
    raw = np.asarray(Image.open(label_path(sample.name)))
    assert sample.image.dtype == np.uint8 and sample.image.shape == (32, 64, 3)
    assert np.array_equal(sample.image, np.asarray(Image.open(sample.name)))
    assert sample.label.dtype == np.uint8 and sample.label.shape == raw.shape
    assert set(np.unique(raw)) == set(range(34))  # the tree holds every label id
    for label_id, train_id in enumerate(EXPECTED):
        assert (sample.label[raw == label_id] == train_id).all(), label_id
    assert set(np.unique(sample.label)) == set(range(19)) | {255}


def test_label_train_ids_file_is_used_when_label_ids_is_absent(tree):
    ds = get_dataset("cityscapes", "train", root=tree)
    name = ds[0].name
    ids = label_path(name)
    train_ids = ID_TO_TRAINID[np.asarray(Image.open(ids))]
    train_ids[0, 0] = 19  # not a train id -> ignored
    Image.fromarray(train_ids).save(label_path(name, "_gtFine_labelTrainIds.png"))
    ids.unlink()
    sample = get_dataset("cityscapes", "train", root=tree)[0]
    assert sample.label[0, 0] == 255
    assert np.array_equal(sample.label[1:], train_ids[1:])


def test_missing_root(tmp_path):
    with pytest.raises(DataError, match="nowhere") as err:
        get_dataset("cityscapes", "train", root=tmp_path / "nowhere")
    assert err.value.dataset == "cityscapes" and "leftImg8bit/ and gtFine/" in str(err.value)


def test_missing_split_lists_the_splits_found(tree):
    with pytest.raises(DataError) as err:
        get_dataset("cityscapes", "test", root=tree)
    msg = str(err.value)
    assert str(tree / "leftImg8bit" / "test") in msg and "splits found" in msg and "train, val" in msg
    assert "gtFine/{split}/{city}" in msg  # the expected layout
    with pytest.raises(DataError, match="valid: train, val, test"):
        get_dataset("cityscapes", "training", root=tree)


def test_tree_one_level_down_is_hinted(tmp_path):
    write_cityscapes_tree(tmp_path / "leftImg8bit_trainvaltest", splits={"train": 1})
    with pytest.raises(DataError, match="one level down, in leftImg8bit_trainvaltest"):
        get_dataset("cityscapes", "train", root=tmp_path)


def test_no_images(tree):
    (tree / "leftImg8bit" / "test" / "berlin").mkdir(parents=True)
    with pytest.raises(DataError, match="no images in") as err:
        get_dataset("cityscapes", "test", root=tree)
    assert str(tree / "leftImg8bit" / "test") in str(err.value)


def test_image_without_label_names_both_paths(tree):
    name = get_dataset("cityscapes", "train", root=tree)[2].name
    label_path(name).unlink()
    with pytest.raises(DataError) as err:
        get_dataset("cityscapes", "train", root=tree)
    assert f"image {name} has no label: expected {label_path(name)}" in str(err.value)


def test_missing_gtfine_split_dir(tree):
    for p in sorted((tree / "gtFine" / "val").rglob("*"), reverse=True):
        p.unlink() if p.is_file() else p.rmdir()
    (tree / "gtFine" / "val").rmdir()
    with pytest.raises(DataError, match="gtFine/val is missing"):
        get_dataset("cityscapes", "val", root=tree)


def test_bad_labels_are_reported_on_load_not_at_init(tree, monkeypatch):
    ds = get_dataset("cityscapes", "train", root=tree)
    colour, small = label_path(ds[0].name), label_path(ds[1].name)
    Image.new("RGB", (64, 32)).save(colour)
    Image.new("L", (32, 16)).save(small)
    with monkeypatch.context() as m:  # the index scan decodes nothing
        m.setattr(Image, "open", lambda *a, **k: pytest.fail("decoded an image at init"))
        ds = get_dataset("cityscapes", "train", root=tree)
    with pytest.raises(DataError, match="mode 'RGB'") as err:
        ds[0]
    assert str(colour) in str(err.value) and "expected 'L'" in str(err.value)
    with pytest.raises(DataError, match="is 16x32 but its image") as err:
        ds[1]
    assert str(small) in str(err.value)
    assert ds[2].label.shape == (32, 64)
    with pytest.raises(IndexError):
        ds[4]


def test_trees_are_deterministic(tmp_path):
    a = write_cityscapes_tree(tmp_path / "a", seed=3)
    b = write_cityscapes_tree(tmp_path / "b", seed=3)
    files = sorted(p.relative_to(a) for p in a.rglob("*.png"))
    assert files == sorted(p.relative_to(b) for p in b.rglob("*.png")) and len(files) == 10
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)
    with pytest.raises(ValueError, match="size"):
        write_cityscapes_tree(tmp_path / "c", size=(0, 8))
