import hashlib

import numpy as np
import pytest

from archlab.data import get_dataset
from archlab.data.synthstreets import (DRAWN_CLASSES, GENERATOR_VERSION, POLE, ROAD, SIDEWALK, SKY, SynthStreets,
                                       render_scene)
from archlab.errors import DataError

# sha256 of the label of scene (seed 0, "val", 3) at 64x128. A change of the generator's output changes it:
# then bump GENERATOR_VERSION in archlab/data/synthstreets.py (cached samples are keyed by it) and update this pin.
PINNED_LABEL_SHA256 = "91687c5d1d81daf2e10655e67ef70312f1c32a43d00edb4cef464a28bdedcf47"
PINNED_VERSION = 1


def scenes(n, size, split="val", seed=0):
    return [render_scene(seed, split, i, size) for i in range(n)]


def test_pinned_label_hash():
    assert GENERATOR_VERSION == PINNED_VERSION, "update PINNED_VERSION and the pinned hash together"
    _, label = render_scene(0, "val", 3, (64, 128))
    assert hashlib.sha256(label.tobytes()).hexdigest() == PINNED_LABEL_SHA256


def test_deterministic_and_distinct():
    image, label = render_scene(3, "train", 7, (64, 128))
    image2, label2 = render_scene(3, "train", 7, (64, 128))
    assert np.array_equal(image, image2) and np.array_equal(label, label2)
    for other in [(4, "train", 7), (3, "val", 7), (3, "test", 7), (3, "train", 8)]:
        other_image, other_label = render_scene(*other, (64, 128))
        assert not np.array_equal(image, other_image)
        assert not np.array_equal(label, other_label)


def test_types_shapes_and_image_statistics():
    for image, label in scenes(8, (128, 256)):
        assert image.shape == (128, 256, 3) and image.dtype == np.uint8
        assert label.shape == (128, 256) and label.dtype == np.uint8
        assert set(np.unique(label).tolist()) <= set(DRAWN_CLASSES)
        assert 40 < image.mean() < 210
        assert image.std() > 15
        assert np.mean((image == 0) | (image == 255)) < 0.05
        assert label[0].tolist().count(SKY) + label[-1].tolist().count(ROAD) > 0  # sky on top or road at bottom


def test_every_eval_class_is_drawn_in_a_few_scenes():
    seen = set()
    for _, label in scenes(12, (64, 128)):
        seen |= set(np.unique(label).tolist())
    assert seen == set(SynthStreets.eval_classes) == set(DRAWN_CLASSES)
    assert SynthStreets.eval_classes == tuple(sorted(SynthStreets.eval_classes))


def test_road_and_sidewalk_differ_by_context_not_colour():
    images, labels = zip(*scenes(20, (64, 128)))
    pixels, labels = np.stack(images).reshape(-1, 3).astype(float), np.stack(labels).ravel()

    def mean(c):
        return pixels[labels == c].mean(axis=0)

    road_vs_sidewalk = np.abs(mean(ROAD) - mean(SIDEWALK)).max()
    road_vs_sky = np.abs(mean(ROAD) - mean(SKY)).max()
    assert road_vs_sidewalk < 0.15 * road_vs_sky

    def hist(c):
        h = np.histogramdd(pixels[labels == c] // 32, bins=(8, 8, 8), range=[(0, 8)] * 3)[0]
        return h / h.sum()

    assert np.minimum(hist(ROAD), hist(SIDEWALK)).sum() > 0.6   # colour histograms overlap strongly
    assert np.minimum(hist(ROAD), hist(SKY)).sum() < 0.4


def test_poles_are_thin_at_256x512():
    runs = []
    for _, label in scenes(12, (256, 512)):
        pole = np.pad((label == POLE).astype(np.int8), ((0, 0), (1, 1)))
        edges = np.diff(pole, axis=1)
        runs.extend(np.nonzero(edges == -1)[1] - np.nonzero(edges == 1)[1])
    assert len(runs) > 100
    assert 1 <= np.median(runs) <= 3


@pytest.mark.parametrize("size", [(32, 64), (96, 160), (33, 47), (256, 512), (512, 1024)])
def test_any_resolution(size):
    image, label = render_scene(0, "test", 1, size)
    assert image.shape == (*size, 3) and label.shape == size
    assert {ROAD, SKY} <= set(np.unique(label).tolist())


def test_same_scene_at_two_resolutions():
    for i in range(3):
        _, small = render_scene(1, "val", i, (128, 256))
        _, large = render_scene(1, "val", i, (256, 512))
        assert np.mean(small == large[::2, ::2]) >= 0.9


def test_dataset_api_and_cache_round_trip(tmp_path):
    ds = get_dataset("synthstreets", "val", size=(48, 96), seed=2, length=3, cache_dir=tmp_path)
    assert isinstance(ds, SynthStreets) and len(ds) == 3
    assert ds.num_classes == 19 and len(ds.class_names) == 19 and ds.palette.shape == (19, 3)
    sample = ds[1]
    assert sample.name == "synthstreets/seed2/val/1"
    folder = tmp_path / f"synthstreets-v{GENERATOR_VERSION}" / "seed2" / "val" / "48x96"
    assert [p.name for p in folder.iterdir()] == ["000001.npz"]   # written atomically: no temporary left
    fresh_image, fresh_label = render_scene(2, "val", 1, (48, 96))
    cached = SynthStreets("val", size=(48, 96), seed=2, length=3, cache_dir=tmp_path)[1]
    assert np.array_equal(cached.image, fresh_image) and np.array_equal(cached.label, fresh_label)
    (folder / "000002.npz").write_bytes(b"truncated")           # an unreadable file is rendered again
    assert np.array_equal(ds[2].label, render_scene(2, "val", 2, (48, 96))[1])
    with pytest.raises(IndexError):
        ds[3]


def test_default_lengths():
    assert [len(SynthStreets(split)) for split in ("train", "val", "test")] == [2000, 200, 200]


@pytest.mark.parametrize("kwargs, words", [
    ({"split": "dev"}, ["'dev'", "train", "val", "test"]),
    ({"size": (16, 64)}, ["16x64", ">= 32"]),
    ({"size": (64,)}, ["height, width"]),
    ({"length": 0}, ["length", "positive"]),
    ({"seed": -1}, ["seed", "non-negative"]),
])
def test_bad_arguments_raise_data_error(kwargs, words):
    with pytest.raises(DataError) as err:
        SynthStreets(**kwargs)
    assert "synthstreets" in str(err.value)
    for word in words:
        assert word in str(err.value)


def test_render_scene_checks_its_arguments():
    with pytest.raises(DataError, match="valid: train, val, test"):
        render_scene(0, "training", 0, (64, 128))
    with pytest.raises(DataError, match=">= 32"):
        render_scene(0, "train", 0, (64, 31))
    with pytest.raises(DataError, match="scene index"):
        render_scene(0, "train", -1, (64, 64))
