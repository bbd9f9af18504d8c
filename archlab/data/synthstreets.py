"""``synthstreets``: procedural street scenes, archlab's default dataset (no download, any resolution).

Each scene is a pinhole view of a straight street on flat ground, labelled with the Cityscapes
train ids (Cordts et al., "The Cityscapes Dataset for Semantic Urban Scene Understanding",
CVPR 2016) and laid out like a Cityscapes frame: horizon and vanishing point, the road as a
trapezoid that widens toward the bottom, a kerb and a sidewalk on each side, building and wall
facades standing on the sidewalks' outer edges (a second, set-back row of buildings or trees
behind them), sky above; poles (some carrying a lamp arm or a traffic sign), trees, people on
the sidewalks and cars on the road (driving in lanes or parked along the kerb). Everything is
placed in world units (camera height = 1, the bottom image row sees the ground at depth
:data:`Z_BOTTOM`) and projected with ``x = xv + X * t * D * K``, ``y = yh + D * t * (1 - Y)``
(``t`` = inverse depth, ``D = 1 - yh``), so objects shrink toward the horizon; they are painted
far to near, so near ones occlude far ones. Geometry is drawn in normalised image coordinates
(a pixel belongs to a shape when its centre does), so a scene is the same scene at any
resolution; only structures clamped to one pixel (below) differ.

Drawn classes (:data:`DRAWN_CLASSES`, the dataset's ``eval_classes``): road 0, sidewalk 1,
building 2, wall 3, pole 5, traffic sign 7, vegetation 8, terrain 9, sky 10, person 11, car 13.
Lane markings are labelled road and the kerb sidewalk, as in Cityscapes; nothing is ignored.

What the scenes are designed to test:

* **Context** (needs a large receptive field or global information). Road and sidewalk share
  one colour distribution and one texture: both are drawn from the same per-scene pavement colour
  with small independent offsets, so over many scenes their colours are indistinguishable and
  only the kerb (a thin band of different brightness, sidewalk) and the position (the road is the
  central trapezoid, sidewalks lie outside the kerbs) tell them apart. Walls and buildings share
  a facade palette: a wall is low, long, windowless and stands at street level; a building is
  tall and has windows (whose glass is labelled building). Vegetation and terrain share greens:
  terrain is a flat verge on the ground, vegetation stands up (trees, hedges). Shadows of the
  facades cross the road/sidewalk border, so brightness does not separate them either. A
  per-pixel colour classifier must fail on these pairs.
* **Detail** (needs high resolution features). Poles and lane markings are mostly 1 to 3 px
  wide at 256x512 (the median pole is 1 px; widths scale with the image width and are clamped
  to at least 1 px, so they exist at every resolution), lamp arms are 1 px lines, the kerb is a
  1 px line far away; traffic signs, distant people and cars cover a few pixels.
* **Texture and noise** (nuisances). Value noise (random low-resolution grids, smoothstep-
  bilinearly upsampled; Perlin, "An Image Synthesizer", SIGGRAPH 1985) at three scales with
  per-material amplitudes, per-pixel grain, per-scene brightness, contrast and colour cast, cast
  shadows of facades, cars and trees, and a few palettes per surface.

Determinism: scene ``index`` of ``seed`` and ``split`` is drawn from
``numpy.random.default_rng([seed, SPLIT_ID[split], index])`` (PCG64; the scene's parameters
use uniform ``random()`` draws only); the label uses only ``+ - * /``, floor/ceil and comparisons in float64, so
it is the same on every machine; the per-pixel grain (raw PCG64 bytes) comes from a second stream
``[seed, SPLIT_ID[split], index, 1]``. Splits never share a scene. Change
:data:`GENERATOR_VERSION` whenever the output changes (together with the pinned label hash in
``tests/archlab/data/test_synthstreets.py``); the on-disk cache is keyed by it.

Preview and speed: ``python -m archlab.data.synthstreets --out DIR --n 8 --size 256x512``.
"""
from __future__ import annotations

import argparse
import math
import os
import time
from functools import lru_cache
from pathlib import Path

import numpy as np

from archlab.data.base import CITYSCAPES_NAMES, CITYSCAPES_PALETTE, Sample, SegmentationDataset, colorize
from archlab.errors import DataError

GENERATOR_VERSION = 1  # bump whenever render_scene's output changes (and update the pinned hash in the tests)

SPLIT_ID = {"train": 0, "val": 1, "test": 2}
DEFAULT_LENGTH = {"train": 2000, "val": 200, "test": 200}
MIN_SIZE = 32

ROAD, SIDEWALK, BUILDING, WALL, POLE, SIGN, VEGETATION, TERRAIN, SKY, PERSON, CAR = 0, 1, 2, 3, 5, 7, 8, 9, 10, 11, 13
DRAWN_CLASSES = (ROAD, SIDEWALK, BUILDING, WALL, POLE, SIGN, VEGETATION, TERRAIN, SKY, PERSON, CAR)

K = 0.5          # lateral scale: x (fraction of width) per world unit per (t * D); right for a 2:1 image
Z_BOTTOM = 4.0   # depth (camera heights) of the ground seen by the bottom image row
NOISE_GRIDS = ((4, 8), (12, 24), (40, 80))  # value-noise lattices: coarse, medium, fine

# Material texture amplitudes (coarse, medium, fine value noise).
_AMP_SKY = (0.05, 0.02, 0.0)
_AMP_GROUND = (0.07, 0.06, 0.10)
_AMP_FACADE = (0.05, 0.05, 0.04)
_AMP_GLASS = (0.08, 0.10, 0.05)
_AMP_LEAVES = (0.08, 0.14, 0.30)
_AMP_TERRAIN = (0.08, 0.12, 0.18)
_AMP_FLAT = (0.02, 0.02, 0.03)

_SKIES = ((0.45, 0.64, 0.90), (0.70, 0.80, 0.92), (0.78, 0.79, 0.81), (0.88, 0.76, 0.62), (0.60, 0.66, 0.74))
_FACADES = ((0.78, 0.71, 0.58), (0.56, 0.56, 0.56), (0.58, 0.32, 0.24), (0.86, 0.84, 0.80), (0.46, 0.37, 0.29),
            (0.86, 0.78, 0.55), (0.50, 0.55, 0.61), (0.64, 0.61, 0.56), (0.72, 0.56, 0.46))
_GLASS = ((0.12, 0.14, 0.18), (0.30, 0.40, 0.50), (0.22, 0.24, 0.24), (0.45, 0.52, 0.58))
_GREENS = ((0.24, 0.38, 0.12), (0.30, 0.42, 0.16), (0.18, 0.30, 0.10), (0.38, 0.44, 0.20), (0.30, 0.36, 0.14))
_CARS = ((0.90, 0.90, 0.90), (0.10, 0.10, 0.11), (0.62, 0.63, 0.66), (0.70, 0.10, 0.10), (0.12, 0.22, 0.55),
         (0.30, 0.32, 0.36), (0.50, 0.52, 0.40), (0.85, 0.72, 0.20), (0.20, 0.35, 0.28))
_CLOTHES = ((0.10, 0.10, 0.12), (0.80, 0.15, 0.15), (0.15, 0.30, 0.60), (0.85, 0.85, 0.82), (0.40, 0.40, 0.42),
            (0.55, 0.45, 0.30), (0.20, 0.45, 0.25), (0.90, 0.65, 0.15), (0.45, 0.20, 0.45))
_SKIN = ((0.85, 0.67, 0.55), (0.65, 0.47, 0.36), (0.42, 0.30, 0.22), (0.92, 0.78, 0.68))


def _check_split(split: str) -> None:
    if split not in SPLIT_ID:
        raise DataError(f"unknown split {split!r}; valid: {', '.join(SPLIT_ID)}", dataset="synthstreets")


def _check_count(what: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise DataError(f"{what} {value!r} must be a non-negative integer", dataset="synthstreets")
    return int(value)


def _check_size(size) -> tuple[int, int]:
    try:
        h, w = size
        if int(h) != h or int(w) != w:
            raise ValueError
        h, w = int(h), int(w)
    except (TypeError, ValueError):
        raise DataError(f"size {size!r} is not a (height, width) pair of integers", dataset="synthstreets") from None
    if h < MIN_SIZE or w < MIN_SIZE:
        raise DataError(f"size {h}x{w} is too small; height and width must be >= {MIN_SIZE} px",
                        dataset="synthstreets")
    return h, w


# --------------------------------------------------------------------------- scene sampling (resolution free)

class _Materials:
    """Per-scene table of surface colours and texture amplitudes; the label map is separate."""

    def __init__(self):
        self.colour: list[tuple[float, float, float]] = []
        self.amp: list[tuple[float, float, float]] = []

    def add(self, colour, amp) -> int:
        self.colour.append(tuple(float(c) for c in colour))
        self.amp.append(amp)
        return len(self.colour) - 1


class _Layer:
    """A row of facades (or a hedge/tree line) in the vertical plane at lateral position ``x``,
    cut into segments along depth: segment k covers depths up to ``z_end[k]``."""

    def __init__(self, x, z_end, height, label, mat, windows, win, glass, wobble=None):
        self.x, self.z_end, self.height, self.label, self.mat = x, z_end, height, label, mat
        self.windows, self.win, self.glass, self.wobble = windows, win, glass, wobble


class _Scene:
    pass


class _Rand:
    """Uniform draws from ``rng`` in blocks (fast scalar draws); every value is derived arithmetically."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.buf: list[float] = []

    def __call__(self) -> float:
        if not self.buf:
            self.buf = self.rng.random(256).tolist()[::-1]
        return self.buf.pop()

    def U(self, a: float, b: float) -> float:
        return a + (b - a) * self()

    def int(self, lo: int, hi: int) -> int:
        """An integer in [lo, hi)."""
        return min(lo + int(self() * (hi - lo)), hi - 1)

    def pick(self, options):
        return options[self.int(0, len(options))]

    def jitter(self, colour, amount):
        return tuple(min(1.0, max(0.0, c * (1.0 + amount * (2.0 * self() - 1.0)))) for c in colour)

    def depth(self, t_lo: float, t_hi: float) -> float:
        """A depth (camera heights) whose inverse lies in [t_lo, t_hi], biased toward far."""
        u = self()
        return Z_BOTTOM / (t_lo + (t_hi - t_lo) * u * u)


def _sample_layer(r: _Rand, x, kind_p, mats, facade_mats, glass_mats, back):
    """Facade segments along one side: buildings (tall, windows) or walls / hedges (low, none)."""
    n = 28
    a = r.rng.random((n, 11))
    low = a[:, 0] < kind_p                         # wall (front row) or vegetation (back row)
    if back:
        length = np.where(low, 4.0 + 16.0 * a[:, 1], 6.0 + 22.0 * a[:, 1])
        height = np.where(low, 1.6 + 2.4 * a[:, 2], 4.0 + 14.0 * a[:, 2])
        label = np.where(low, VEGETATION, BUILDING).astype(np.uint8)
    else:
        length = np.where(low, 6.0 + 20.0 * a[:, 1], 5.0 + 22.0 * a[:, 1])
        height = np.where(low, 0.5 + 0.9 * a[:, 2], 3.0 + 12.0 * a[:, 2])
        label = np.where(low, WALL, BUILDING).astype(np.uint8)
    z_end = 1.0 + np.cumsum(length)
    z_end[-1] = np.inf
    mat = np.array(facade_mats, np.uint8)[(a[:, 3] * len(facade_mats)).astype(np.int64)]
    if back:
        mat = np.where(low, mats.leaves_back, mat).astype(np.uint8)
    windows = label == BUILDING
    # window grid: spacing along the street, fill fraction, floor height, glass fraction, ground floor, phases
    win = np.stack([1.8 + 1.8 * a[:, 4], 0.35 + 0.35 * a[:, 5], 2.2 + 0.8 * a[:, 6], 0.35 + 0.3 * a[:, 7],
                    1.2 + 1.8 * a[:, 8], a[:, 9], a[:, 10]], axis=1)
    glass = np.array(glass_mats, np.uint8)[(a[:, 9] * len(glass_mats)).astype(np.int64)]
    wobble = None
    if back:  # irregular top of tree lines: 1-D value noise along depth
        wobble = (np.arange(64) * 3.0, 1.2 * (r.rng.random(64) - 0.5))
    return _Layer(x, z_end, height, label, mat, windows, win, glass, wobble)


def _sample_scene(rng: np.random.Generator) -> _Scene:
    r = _Rand(rng)
    U = r.U
    s = _Scene()
    m = s.mats = _Materials()
    s.yh, s.xv = U(0.34, 0.50), U(0.38, 0.62)
    s.D = 1.0 - s.yh
    s.grids = [2.0 * rng.random(g) - 1.0 for g in NOISE_GRIDS]
    s.bright, s.contrast = U(0.75, 1.2), U(0.8, 1.15)
    s.cast = tuple(1.0 + U(-0.06, 0.06) for _ in range(3))
    s.grain = U(0.015, 0.045)

    s.sky_mat = m.add(r.jitter(r.pick(_SKIES), 0.06), (_AMP_SKY[0] * U(0.5, 4.0), _AMP_SKY[1] * U(0.5, 3.0), 0.0))
    s.sky_grad = (U(0.85, 0.95), U(1.02, 1.12))  # brightness at the top, at the horizon

    # Pavement: road and sidewalk draw from the same colour distribution (context cue, see docstring).
    g = U(0.30, 0.58)
    pave = (g * (1.0 + U(-0.05, 0.05)), g, g * (1.0 + U(-0.06, 0.06)))
    road, walk = 1.0 + U(-0.05, 0.05), 1.0 + U(-0.05, 0.05)
    s.road_mat = m.add([c * road for c in pave], _AMP_GROUND)
    s.walk_mat = m.add([c * walk for c in pave], _AMP_GROUND)
    kerb = U(0.25, 0.45) * (1.0 if r() < 0.6 else -1.0)
    s.kerb_mat = m.add([min(1.0, c * walk * (1.0 + kerb)) for c in pave], _AMP_GROUND)
    s.mark_mat = m.add(r.jitter((0.88, 0.88, 0.86), 0.08), _AMP_FLAT)
    green = r.pick(_GREENS)
    s.terrain_mat = m.add(r.jitter(green, 0.12), _AMP_TERRAIN)
    m.leaves = [m.add(r.jitter(green, 0.15), _AMP_LEAVES) for _ in range(2)]
    m.leaves_back = m.add(r.jitter(green, 0.15), _AMP_LEAVES)
    m.trunk = m.add(r.jitter((0.32, 0.24, 0.17), 0.2), _AMP_FLAT)
    facade_mats = [m.add(r.jitter(r.pick(_FACADES), 0.1), _AMP_FACADE) for _ in range(4)]
    glass_mats = [m.add(r.jitter(r.pick(_GLASS), 0.1), _AMP_GLASS) for _ in range(2)]
    m.pole = [m.add(r.jitter(c, 0.1), _AMP_FLAT) for c in ((0.42, 0.43, 0.44), (0.25, 0.28, 0.26))]
    m.tyre = m.add((0.06, 0.06, 0.06), _AMP_FLAT)
    m.car_glass = m.add(r.jitter((0.16, 0.19, 0.23), 0.2), _AMP_GLASS)
    m.tail = m.add((0.75, 0.08, 0.06), _AMP_FLAT)
    m.head = m.add((0.95, 0.93, 0.80), _AMP_FLAT)
    m.sign = {"red": m.add((0.78, 0.10, 0.10), _AMP_FLAT), "white": m.add((0.92, 0.92, 0.90), _AMP_FLAT),
              "blue": m.add((0.10, 0.30, 0.70), _AMP_FLAT), "yellow": m.add((0.95, 0.78, 0.10), _AMP_FLAT)}

    # Road: lanes, optional parking strips; camera in one of the lanes.
    n_lanes = r.int(2, 5)
    lane = U(1.8, 2.4)
    cam_lane = r.int(0, n_lanes)
    lanes_left = -(cam_lane + 0.5) * lane + U(-0.3, 0.3) * lane
    park = (r() < 0.5, r() < 0.5)
    park_w = 1.7
    s.road = (lanes_left - park_w * park[0], lanes_left + n_lanes * lane + park_w * park[1])
    s.lane_lines = [lanes_left + k * lane for k in range(1, n_lanes)]
    s.edge_lines = [lanes_left + 0.25, lanes_left + n_lanes * lane - 0.25] if r() < 0.5 else []
    s.dash = (U(6.0, 12.0), U(0.3, 0.55), r())  # period (depth), duty, phase
    s.mark_w = 0.022   # lane marking width: ~3 px at the bottom of a 256x512 image
    s.kerb_w = 0.04
    walk = (U(1.3, 3.5), U(1.3, 3.5))
    verge = tuple(U(0.8, 3.0) if r() < 0.3 else 0.0 for _ in range(2))
    s.walk_out = (s.road[0] - walk[0], s.road[1] + walk[1])        # sidewalk / verge border
    s.out = (s.walk_out[0] - verge[0], s.walk_out[1] + verge[1])  # facade planes
    s.front, s.back = [], []
    for i, sign in enumerate((-1.0, 1.0)):
        p_wall = 0.0 if r() < 0.4 else U(0.2, 0.6)
        s.front.append(_sample_layer(r, s.out[i], p_wall, m, facade_mats, glass_mats, back=False))
        s.back.append(_sample_layer(r, s.out[i] + sign * U(2.0, 10.0), U(0.2, 0.9), m, facade_mats, glass_mats,
                                    back=True))
    s.sun = r.int(-1, 2)  # -1 / +1: the facades on that side are in shade and cast a shadow; 0: overcast
    s.sun_len, s.shadow = U(0.3, 0.9), U(0.45, 0.7)
    s.front_shade = (s.shadow if s.sun == -1 else 1.08, s.shadow if s.sun == 1 else 1.08) if s.sun else (1.0, 1.0)

    # Objects: (depth of the nearest point, painter, arguments), painted far to near.
    s.objects = []
    for i, sign in enumerate((-1.0, 1.0)):
        edge, walk_w = s.road[i], walk[i]
        for _ in range(r.int(1, 7)):                 # poles, some with a lamp arm or a sign
            z = r.depth(0.04, 1.3)
            x = edge + sign * U(0.2, min(0.7, walk_w - 0.2))
            h = U(2.2, 5.0)
            arm = U(0.8, 1.8) if r() < 0.3 else 0.0
            sign_kind = r.int(0, 5) if r() < 0.65 else -1
            s.objects.append((z, _paint_pole, (x, z, h, r.pick(m.pole), -sign * arm, sign_kind, U(0.45, 0.75))))
        for _ in range(r.int(0, 3) * r.int(0, 4)):   # trees on the sidewalk's outer half or the verge
            z = r.depth(0.04, 1.3)
            x = s.walk_out[i] + sign * (U(0.3, 0.8) - verge[i] * r())
            rad = U(0.8, 1.7)
            blobs = [(U(-0.5, 0.5) * rad, U(-0.3, 0.4) * rad, U(0.55, 0.85) * rad) for _ in range(4)]
            s.objects.append((z, _paint_tree, (x, z, U(1.0, 2.0), rad, blobs, r.pick(m.leaves))))
        for _ in range(r.int(0, 7)):                 # people
            z = r.depth(0.05, 1.1)
            x = edge + sign * U(0.3, walk_w - 0.2)
            mats = (m.add(r.jitter(r.pick(_CLOTHES), 0.15), _AMP_FLAT),
                    m.add(r.jitter(r.pick(_CLOTHES[:6]), 0.15), _AMP_FLAT),
                    m.add(r.jitter(r.pick(_SKIN), 0.08), _AMP_FLAT),
                    m.add(r.jitter((0.12, 0.09, 0.07), 0.3), _AMP_FLAT))
            s.objects.append((z, _paint_person, (x, z, U(1.25, 1.55), mats)))
        if park[i]:                                  # a row of cars parked along the kerb
            z = U(2.5, 14.0)
            for _ in range(r.int(1, 6)):
                w, length = U(1.35, 1.55), U(3.2, 4.0)
                gap = U(0.15, 0.3)
                _add_car(s, r, edge + gap if sign < 0 else edge - gap - w, w, z, length, forward=r() < 0.8)
                z += length + U(0.4, 8.0)
    for k in range(n_lanes):                         # traffic in the lanes (none close ahead in the camera's)
        z = U(3.0, 30.0) + (12.0 if k == cam_lane else 0.0)
        for _ in range(r.int(0, 3)):
            w, length = U(1.35, 1.6), U(3.3, 4.2)
            x0 = lanes_left + (k + 0.5) * lane - w / 2 + U(-0.2, 0.2)
            _add_car(s, r, x0, w, z, length, forward=k >= cam_lane or r() < 0.3)
            z += length + U(4.0, 40.0)
    if len(s.mats.colour) > 255:
        raise AssertionError("too many materials for a uint8 material map")
    return s


def _add_car(s: _Scene, r: _Rand, x0, w, z, length, forward):
    m = s.mats
    body = m.add(r.jitter(r.pick(_CARS), 0.08), (0.02, 0.03, 0.02))
    s.objects.append((z, _paint_car, (x0, x0 + w, z, length, r.U(1.05, 1.35), body, m.tail if forward else m.head)))


# --------------------------------------------------------------------------- rasterising

class _Canvas:
    """Label, material and shading maps of one scene at one resolution, and shape painters."""

    def __init__(self, s: _Scene, H: int, W: int):
        self.s, self.H, self.W = s, H, W
        self.xs = (np.arange(W) + 0.5) / W
        self.ys = (np.arange(H) + 0.5) / H
        self.lab = np.full((H, W), SKY, np.uint8)
        self.mat = np.full((H, W), s.sky_mat, np.uint8)
        self.shade = np.ones((H, W), np.float32)
        self.jv = int(np.searchsorted(self.xs, s.xv))  # first column right of the vanishing point

    # projection of world (X lateral, Y up, inverse depth t) to normalised image coordinates
    def px(self, X, t):
        return self.s.xv + X * t * self.s.D * K

    def py(self, Y, t):
        return self.s.yh + self.s.D * t * (1.0 - Y)

    def span(self, a, b, n):
        """Indices of the pixels whose centres lie in [a, b) (normalised), clipped to the image."""
        return max(0, math.ceil(a * n - 0.5)), min(n, math.ceil(b * n - 0.5))

    def put(self, rows, cols, lab, mat, shade, mask=None):
        if mask is None:
            self.lab[rows, cols] = lab
            self.mat[rows, cols] = mat
            self.shade[rows, cols] = shade
        else:
            self.lab[rows, cols][mask] = lab
            self.mat[rows, cols][mask] = mat
            self.shade[rows, cols][mask] = shade

    def rect(self, x0, x1, y0, y1, lab, mat, shade=1.0):
        j0, j1 = self.span(x0, x1, self.W)
        i0, i1 = self.span(y0, y1, self.H)
        if j1 > j0 and i1 > i0:
            self.put(slice(i0, i1), slice(j0, j1), lab, mat, shade)

    def darken(self, x0, x1, y0, y1, factor):
        j0, j1 = self.span(x0, x1, self.W)
        i0, i1 = self.span(y0, y1, self.H)
        if j1 > j0 and i1 > i0:
            self.shade[i0:i1, j0:j1] *= np.float32(factor)

    def vbar(self, xc, w, y0, y1, lab, mat, shade=1.0):
        """A vertical bar of width ``w`` (normalised), never thinner than one pixel."""
        wpx = max(1, int(w * self.W + 0.5))
        j0 = math.floor(xc * self.W - wpx / 2 + 0.5)
        i0, i1 = self.span(y0, y1, self.H)
        j0, j1 = max(0, j0), min(self.W, j0 + wpx)
        if j1 > j0 and i1 > i0:
            self.put(slice(i0, i1), slice(j0, j1), lab, mat, shade)

    def hbar(self, x0, x1, yc, h, lab, mat, shade=1.0):
        """A horizontal bar of height ``h`` (normalised), never thinner than one pixel."""
        hpx = max(1, int(h * self.H + 0.5))
        i0 = math.floor(yc * self.H - hpx / 2 + 0.5)
        j0, j1 = self.span(min(x0, x1), max(x0, x1), self.W)
        i0, i1 = max(0, i0), min(self.H, i0 + hpx)
        if j1 > j0 and i1 > i0:
            self.put(slice(i0, i1), slice(j0, j1), lab, mat, shade)

    def shape(self, kind, cx, cy, rx, ry, lab, mat, shade=1.0):
        """Ellipse, triangle (up / down) or diamond inscribed in the box cx +- rx, cy +- ry."""
        j0, j1 = self.span(cx - rx, cx + rx, self.W)
        i0, i1 = self.span(cy - ry, cy + ry, self.H)
        if j1 <= j0 or i1 <= i0:
            return
        dx = (self.xs[j0:j1] - cx) / rx
        dy = (self.ys[i0:i1] - cy) / ry
        if kind == "ellipse":
            mask = (dy * dy)[:, None] + (dx * dx)[None, :] <= 1.0
        elif kind == "diamond":
            mask = np.abs(dy)[:, None] + np.abs(dx)[None, :] <= 1.0
        elif kind == "tri_up":
            mask = np.abs(dx)[None, :] <= (0.5 * (dy + 1.0))[:, None]
        else:  # tri_down
            mask = np.abs(dx)[None, :] <= (0.5 * (1.0 - dy))[:, None]
        self.put(slice(i0, i1), slice(j0, j1), lab, mat, shade, mask)


def _frac(a):
    return a - np.floor(a)


def _layer_columns(cv: _Canvas, layer: _Layer):
    """Per image column on the layer's side: (columns, inverse depth, depth, segment, height, top y, foot y)."""
    s = cv.s
    cols = slice(0, cv.jv) if layer.x < 0 else slice(cv.jv, cv.W)
    t = np.maximum((cv.xs[cols] - s.xv) / (layer.x * s.D * K), 1e-6)
    z = Z_BOTTOM / t
    k = np.searchsorted(layer.z_end, z)
    h = layer.height[k]
    if layer.wobble is not None:
        h = h + np.where(layer.label[k] == VEGETATION, np.interp(z, *layer.wobble), 0.0)
    return cols, t, z, k, h, s.yh + s.D * t * (1.0 - h), s.yh + s.D * t


def _paint_layer(cv: _Canvas, layer: _Layer, shade: float, columns, foot=None) -> None:
    """Paint the facades of ``layer`` between their tops and ``foot`` (default: where they stand)."""
    s = cv.s
    cols, t, z, k, h, top, own_foot = columns
    if foot is None:
        foot = own_foot
    if t.size == 0:
        return
    i0, i1 = cv.span(float(top.min()), float(foot.max()), cv.H)
    if i1 <= i0:
        return
    ys = cv.ys[i0:i1, None]
    inside = (ys >= top) & (ys < foot)
    mat = np.broadcast_to(layer.mat[k], inside.shape)
    if layer.windows[k].any():
        win = layer.win[k]
        Y = 1.0 - (ys - s.yh) / (s.D * t)          # height on the facade
        col_ok = (_frac(z / win[:, 0] + win[:, 5]) < win[:, 1]) & layer.windows[k]
        row_ok = (_frac(Y / win[:, 2] + win[:, 6]) < win[:, 3]) & (Y > win[:, 4]) & (Y < h - 0.5)
        mat = np.where(row_ok & col_ok, layer.glass[k], mat)
    np.copyto(cv.lab[i0:i1, cols], layer.label[k], where=inside)
    np.copyto(cv.mat[i0:i1, cols], mat, where=inside)
    np.copyto(cv.shade[i0:i1, cols], np.float32(shade), where=inside)


def _row_runs(starts, ends, W):
    """Boolean (rows, W) map of the column runs [starts, ends) given per row (several runs per row)."""
    rows = starts.shape[0]
    base = (np.arange(rows) * (W + 1))[:, None]
    n = rows * (W + 1)
    diff = np.bincount((base + starts).ravel(), minlength=n) - np.bincount((base + ends).ravel(), minlength=n)
    return np.cumsum(diff.reshape(rows, W + 1)[:, :W], axis=1) > 0


def _paint_ground(cv: _Canvas) -> None:
    s, W = cv.s, cv.W
    ih = int(np.searchsorted(cv.ys, s.yh, side="right"))
    if ih >= cv.H:
        return
    t = (cv.ys[ih:] - s.yh) / s.D
    sx = t * s.D * K                      # image x per world unit on each row
    pix = 1.0 / (W * sx)                  # world width of one pixel on each row
    z = Z_BOTTOM / t

    def col(X):                           # first column whose centre lies at or right of lateral X
        return np.clip(np.ceil((s.xv + X * sx) * W - 0.5), 0, W).astype(np.int64)

    def thin(width, X):                   # world width of a line along the street at lateral X on each row:
        run = max(1.0, abs(X) * K * W / cv.H)  # at least one pixel, and connected from row to row
        return np.maximum(width, pix * run)

    kerb = (thin(s.kerb_w, s.road[0]), thin(s.kerb_w, s.road[1]))  # the kerb never vanishes
    bounds = [s.out[0], s.walk_out[0], s.road[0] - kerb[0], s.road[0], s.road[1], s.road[1] + kerb[1],
              s.walk_out[1], s.out[1]]
    cols = np.maximum.accumulate(np.stack([col(b) for b in bounds], axis=1), axis=1)
    base = (np.arange(len(t)) * (W + 1))[:, None]
    band = np.cumsum(np.bincount((base + cols).ravel(), minlength=len(t) * (W + 1))
                     .reshape(len(t), W + 1)[:, :W], axis=1)
    lab_lut = np.array([255, TERRAIN, SIDEWALK, SIDEWALK, ROAD, SIDEWALK, SIDEWALK, TERRAIN, 255], np.uint8)
    mat_lut = np.array([0, s.terrain_mat, s.walk_mat, s.kerb_mat, s.road_mat, s.kerb_mat, s.walk_mat,
                        s.terrain_mat, 0], np.uint8)
    lab = lab_lut[band]
    ground = lab != 255
    mat = mat_lut[band]

    # lane markings: dashed lines between lanes, optional solid edge lines; labelled road
    far_ok = t > 0.06
    period, duty, phase = s.dash
    dash_on = (_frac(z / period + phase) < duty) & far_ok
    runs = [(X, dash_on) for X in s.lane_lines] + [(X, far_ok) for X in s.edge_lines]
    if runs:
        half = [thin(s.mark_w, X) / 2.0 for X, _ in runs]
        starts = np.stack([np.where(on, col(X - hw), 0) for (X, on), hw in zip(runs, half)], axis=1)
        ends = np.stack([np.where(on, col(X + hw), 0) for (X, on), hw in zip(runs, half)], axis=1)
        marks = _row_runs(starts, ends, W) & (lab == ROAD)
        mat = np.where(marks, np.uint8(s.mark_mat), mat)

    np.copyto(cv.lab[ih:], lab, where=ground)
    np.copyto(cv.mat[ih:], mat, where=ground)
    shade = np.ones(lab.shape, np.float32)
    if s.sun:
        side = 0 if s.sun < 0 else 1
        layer = s.front[side]
        h = layer.height[np.searchsorted(layer.z_end, z)]
        edge = col(s.out[side] - s.sun * h * s.sun_len)
        cc = np.arange(W)[None, :]
        shadow = cc < edge[:, None] if s.sun < 0 else cc >= edge[:, None]
        shade = np.where(shadow, np.float32(s.shadow), shade)
    np.copyto(cv.shade[ih:], shade, where=ground)


def _shadow_at(s: _Scene, X: float, z: float) -> float:
    """Shade factor of an object standing at lateral X, depth z (inside a facade's cast shadow or not)."""
    if not s.sun:
        return 1.0
    side = 0 if s.sun < 0 else 1
    layer = s.front[side]
    h = float(layer.height[np.searchsorted(layer.z_end, z)])
    edge = s.out[side] - s.sun * h * s.sun_len
    return s.shadow if (X - edge) * s.sun > 0 else 1.0


def _paint_pole(cv: _Canvas, x, z, h, mat, arm, sign_kind, size):
    s = cv.s
    t = Z_BOTTOM / z
    sx, sy = t * s.D * K, t * s.D
    shade = _shadow_at(s, x, z)
    xc = cv.px(x, t)
    cv.vbar(xc, 0.02 * sx, cv.py(h, t), cv.py(0.0, t), POLE, mat, shade)
    if arm:
        cv.hbar(xc, xc + arm * sx, cv.py(h, t), 0.02 * sy, POLE, mat, shade)
        cv.rect(xc + arm * sx - 0.15 * sx, xc + arm * sx + 0.15 * sx, cv.py(h, t), cv.py(h - 0.08, t), POLE, mat, shade)
    if sign_kind >= 0:
        kind, border, face = (("ellipse", "red", "white"), ("ellipse", "blue", "blue"), ("tri_up", "red", "white"),
                              ("diamond", "white", "yellow"), ("rect", "blue", "blue"))[sign_kind]
        cy = cv.py(h - 0.5 * size, t)
        rx, ry = 0.5 * size * sx, 0.5 * size * sy
        bm, fm = s.mats.sign[border], s.mats.sign[face]
        if kind == "rect":
            cv.rect(xc - rx, xc + rx, cy - 0.8 * ry, cy + 0.8 * ry, SIGN, bm, shade)
            cv.rect(xc - 0.8 * rx, xc + 0.8 * rx, cy - 0.6 * ry, cy + 0.6 * ry, SIGN, s.mats.sign["white"], shade)
            cv.rect(xc - 0.7 * rx, xc + 0.7 * rx, cy - 0.5 * ry, cy + 0.5 * ry, SIGN, fm, shade)
        else:
            cv.shape(kind, xc, cy, rx, ry, SIGN, bm, shade)
            cv.shape(kind, xc, cy + (0.15 * ry if kind == "tri_up" else 0.0), 0.7 * rx, 0.7 * ry, SIGN, fm, shade)


def _paint_tree(cv: _Canvas, x, z, trunk, r, blobs, leaves):
    s = cv.s
    t = Z_BOTTOM / z
    sx, sy = t * s.D * K, t * s.D
    shade = _shadow_at(s, x, z)
    if s.sun:  # the crown's shadow on the ground around the foot
        i0, i1 = cv.span(cv.py(0.0, Z_BOTTOM / (z + 0.6 * r)), cv.py(0.0, Z_BOTTOM / max(z - 0.6 * r, 1e-3)), cv.H)
        j0, j1 = cv.span(cv.px(x - r, t), cv.px(x + r, t), cv.W)
        if i1 > i0 and j1 > j0:
            lab = cv.lab[i0:i1, j0:j1]
            ground = (lab == ROAD) | (lab == SIDEWALK) | (lab == TERRAIN)
            cv.shade[i0:i1, j0:j1][ground] *= np.float32(s.shadow)
    xc = cv.px(x, t)
    cv.vbar(xc, 0.12 * sx, cv.py(trunk + 0.5 * r, t), cv.py(0.0, t), VEGETATION, cv.s.mats.trunk, shade)
    for dx, dy, rr in blobs:
        cv.shape("ellipse", cv.px(x + dx, t), cv.py(trunk + r + dy, t), rr * sx, rr * sy, VEGETATION, leaves, shade)


def _paint_person(cv: _Canvas, x, z, h, mats):
    s = cv.s
    t = Z_BOTTOM / z
    sx = t * s.D * K
    shirt, trousers, skin, hair = mats
    shade = _shadow_at(s, x, z)
    X = lambda dx: cv.px(x + dx, t)  # noqa: E731
    Y = lambda dy: cv.py(dy * h, t)  # noqa: E731
    cv.rect(X(-0.15), X(-0.02), Y(0.48), Y(0.0), PERSON, trousers, 0.9 * shade)
    cv.rect(X(0.02), X(0.15), Y(0.48), Y(0.0), PERSON, trousers, 0.9 * shade)
    cv.rect(X(-0.19), X(0.19), Y(0.82), Y(0.46), PERSON, shirt, shade)
    cv.rect(X(-0.25), X(-0.19), Y(0.8), Y(0.52), PERSON, shirt, 0.85 * shade)
    cv.rect(X(0.19), X(0.25), Y(0.8), Y(0.52), PERSON, shirt, 0.85 * shade)
    sy = t * s.D
    cv.shape("ellipse", X(0.0), Y(0.9), 0.05 * h * sx, 0.065 * h * sy, PERSON, skin, shade)
    cv.shape("ellipse", X(0.0), Y(0.945), 0.052 * h * sx, 0.035 * h * sy, PERSON, hair, shade)


def _paint_car(cv: _Canvas, x0, x1, z, length, height, body, lights):
    s, m = cv.s, cv.s.mats
    tn = Z_BOTTOM / z
    hb = 0.58 * height
    shade = _shadow_at(s, 0.5 * (x0 + x1), z)
    # the side facing the camera axis, a vertical plane from depth z to z + length
    xs_ = x1 if x1 < -0.05 else x0 if x0 > 0.05 else None
    if xs_ is not None:
        tf = Z_BOTTOM / (z + length)
        a, b = sorted((cv.px(xs_, tn), cv.px(xs_, tf)))
        j0, j1 = cv.span(a, b, cv.W)
        i0, i1 = cv.span(cv.py(height, tn), cv.py(0.0, tn), cv.H)
        if j1 > j0 and i1 > i0:
            t = (cv.xs[j0:j1] - s.xv) / (xs_ * s.D * K)
            u = (Z_BOTTOM / t - z) / length                      # 0 at the near end, 1 at the far end
            roof = hb + (height - hb) * np.clip(np.minimum((u - 0.2) / 0.12, (0.8 - u) / 0.12), 0.0, 1.0)
            Y = 1.0 - (cv.ys[i0:i1, None] - s.yh) / (s.D * t)  # height on the side plane
            inside = (Y >= 0.12) & (Y < roof)
            window = (Y > hb + 0.06) & (Y < roof - 0.06) & (u > 0.3) & (u < 0.72)
            wheel = np.minimum(((u - 0.16) * length) ** 2, ((u - 0.84) * length) ** 2) + (Y - 0.3) ** 2 <= 0.09
            inside |= wheel & (Y >= 0.0)
            mat = np.where(wheel, m.tyre, np.where(window, m.car_glass, body))
            rows, cols = slice(i0, i1), slice(j0, j1)
            cv.lab[rows, cols][inside] = CAR
            cv.mat[rows, cols][inside] = mat[inside]
            cv.shade[rows, cols][inside] = np.float32(0.8 * shade)
    # the rear (or front) face at depth z
    X = lambda dx: cv.px(x0 + dx * (x1 - x0), tn)  # noqa: E731
    Y = lambda dy: cv.py(dy, tn)  # noqa: E731
    cv.darken(X(0.0), X(1.0), Y(0.12), Y(0.0), 0.3)  # shadow under the car, seen between the tyres
    for c in (0.04, 0.76):
        cv.rect(X(c), X(c + 0.2), Y(0.16), Y(0.0), CAR, m.tyre, shade)
    cv.rect(X(0.0), X(1.0), Y(hb), Y(0.12), CAR, body, shade)
    cv.rect(X(0.0), X(1.0), Y(0.22), Y(0.12), CAR, m.tyre, 0.7 * shade)
    cv.rect(X(0.08), X(0.92), Y(height), Y(hb), CAR, body, 1.05 * shade)
    cv.rect(X(0.14), X(0.86), Y(height - 0.07), Y(hb + 0.05), CAR, m.car_glass, shade)
    for c in (0.03, 0.8):
        cv.rect(X(c), X(c + 0.17), Y(hb - 0.08), Y(hb - 0.2), CAR, lights, shade)


@lru_cache(maxsize=64)
def _interp(n_out: int, n_grid: int):
    """Lattice indices and smoothstep weights that upsample a length-``n_grid`` lattice to ``n_out`` pixels."""
    g = (np.arange(n_out) + 0.5) / n_out * (n_grid - 1)
    i0 = np.minimum(np.floor(g).astype(np.int64), n_grid - 2)
    w = g - i0
    w = (w * w * (3.0 - 2.0 * w)).astype(np.float32)
    for a in (i0, w):
        a.flags.writeable = False
    return i0, w


def _value_noise(grid: np.ndarray, H: int, W: int) -> np.ndarray:
    """``grid`` upsampled to ``H x W`` (smoothstep-bilinear): columns on the small lattice first, then rows."""
    (ri, rw), (ci, cw) = _interp(H, grid.shape[0]), _interp(W, grid.shape[1])
    g = grid.astype(np.float32)
    cols = g[:, ci] + (g[:, ci + 1] - g[:, ci]) * cw
    step = cols[1:] - cols[:-1]
    return np.take(cols, ri, axis=0) + np.take(step, ri, axis=0) * rw[:, None]


def _composite(cv: _Canvas, grain_rng: np.random.Generator) -> np.ndarray:
    """Image from the material and shading maps: colour x shading x value-noise texture + grain, then lighting."""
    s, H, W = cv.s, cv.H, cv.W
    mat = cv.mat.astype(np.intp)
    amp = np.array(s.mats.amp, np.float32)
    tex = np.ones((H, W), np.float32)
    for k, grid in enumerate(s.grids):
        tex += np.take(amp[:, k], mat) * _value_noise(grid, H, W)
    top, horizon = s.sky_grad
    sky_rows = (top + (horizon - top) * np.clip(cv.ys / s.yh, 0.0, 1.0)).astype(np.float32)
    lum = np.where(cv.lab == SKY, sky_rows[:, None], cv.shade)
    lum *= tex
    raw = grain_rng.bit_generator.random_raw((2 * H * W + 7) // 8).astype("<u8", copy=False)
    noise = raw.view(np.uint8)[: 2 * H * W].reshape(2, H, W)
    grain = (noise[0].astype(np.float32) - noise[1]) * np.float32(s.grain / 255.0)   # triangular, +-grain
    colour = np.array(s.mats.colour, np.float32)
    out = np.empty((H, W, 3), np.uint8)
    for c in range(3):   # lighting: brightness, contrast and colour cast of the scene
        gain = np.float32(s.contrast * s.bright * s.cast[c] * 255.0)
        offset = np.float32((0.5 - 0.5 * s.contrast) * s.bright * s.cast[c] * 255.0 + 0.5)
        ch = np.take(colour[:, c] * gain, mat) * lum
        ch += grain * gain + offset
        np.clip(ch, 0.0, 255.0, out=ch)
        out[..., c] = ch
    return out


def render_scene(seed: int, split: str, index: int, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Scene ``index`` of ``seed`` and ``split`` at ``size = (H, W)``: (image ``HxWx3`` uint8, label ``HxW`` uint8).

    A pure function: the same arguments give the same arrays on every machine.
    """
    _check_split(split)
    H, W = _check_size(size)
    key = [_check_count("seed", seed), SPLIT_ID[split], _check_count("scene index", index)]
    scene = _sample_scene(np.random.default_rng(key))
    cv = _Canvas(scene, H, W)
    for i in (0, 1):  # the set-back row shows only above the front row (and behind low walls)
        front = _layer_columns(cv, scene.front[i])
        _paint_layer(cv, scene.back[i], 0.95, _layer_columns(cv, scene.back[i]), foot=front[5])
        _paint_layer(cv, scene.front[i], scene.front_shade[i], front)
    _paint_ground(cv)
    for _, paint, args in sorted(scene.objects, key=lambda o: -o[0]):
        paint(cv, *args)
    image = _composite(cv, np.random.default_rng(key + [1]))
    return image, cv.lab


def _keep_temporaries_on_heap() -> None:
    """Free one 16 MiB block, once per process, so that glibc keeps rendering temporaries on its heap.

    glibc's malloc maps blocks above a threshold afresh and trims its heap eagerly; both thresholds
    adapt to the largest mapped block freed so far ("dynamic mmap threshold", mallopt(3)). Without
    this a fresh process maps and zero-fills every large temporary of every scene again, which halves
    the speed at 256x512 and above. Elsewhere it is a harmless short-lived allocation.
    """
    np.empty(16 << 20, np.uint8)


_keep_temporaries_on_heap()


# --------------------------------------------------------------------------- dataset

class SynthStreets(SegmentationDataset):
    """``length`` generated street scenes of ``split`` at ``size = (H, W)``; see the module docstring.

    With ``cache_dir``, rendered samples are kept as ``.npz`` files under
    ``cache_dir/synthstreets-v{GENERATOR_VERSION}/seed{seed}/{split}/{H}x{W}/`` and read back
    (written to a temporary file and renamed, so an interrupted run never leaves a partial file).
    """

    name = "synthstreets"
    num_classes = len(CITYSCAPES_NAMES)
    class_names = CITYSCAPES_NAMES
    palette = CITYSCAPES_PALETTE
    eval_classes = tuple(sorted(DRAWN_CLASSES))

    def __init__(self, split: str = "train", size: tuple[int, int] = (128, 256), seed: int = 0,
                 length: int | None = None, cache_dir=None):
        _check_split(split)
        self.split = split
        self.size = _check_size(size)
        self.seed = _check_count("seed", seed)
        if length is None:
            length = DEFAULT_LENGTH[split]
        if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 1:
            raise DataError(f"length {length!r} must be a positive integer (number of scenes)", dataset=self.name)
        self.length = int(length)
        self.cache = None
        if cache_dir is not None:
            H, W = self.size
            self.cache = (Path(cache_dir).expanduser() / f"synthstreets-v{GENERATOR_VERSION}" / f"seed{self.seed}"
                          / split / f"{H}x{W}")
            try:
                self.cache.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise DataError(f"cannot create the cache directory {self.cache} ({e.strerror}); expected a "
                                "writable folder for cache_dir", dataset=self.name) from None

    def __len__(self) -> int:
        return self.length

    def memo_key(self):
        """Scenes depend on the generator version, the seed, the split and the size (not the length); the
        cache folder is part of the key so that a dataset with a disk cache fills it."""
        return (self.name, GENERATOR_VERSION, self.seed, self.split, self.size, str(self.cache))

    def load(self, index: int) -> Sample:
        if not 0 <= index < self.length:
            raise IndexError(f"{self.name} {self.split}: index {index} out of range 0..{self.length - 1}")
        name = f"synthstreets/seed{self.seed}/{self.split}/{index}"
        if self.cache is None:
            image, label = render_scene(self.seed, self.split, index, self.size)
            return Sample(image=image, label=label, name=name)
        path = self.cache / f"{index:06d}.npz"
        try:
            with np.load(path) as f:
                return Sample(image=f["image"], label=f["label"], name=name)
        except (OSError, KeyError, ValueError, EOFError):
            pass  # not cached yet (or unreadable): render and (re)write it
        image, label = render_scene(self.seed, self.split, index, self.size)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}.tmp")
        try:
            with open(tmp, "wb") as f:
                np.savez(f, image=image, label=label)
            os.replace(tmp, path)
        except OSError as e:
            tmp.unlink(missing_ok=True)
            raise DataError(f"cannot write the cache file {path} ({e.strerror}); expected a writable cache_dir",
                            dataset=self.name) from None
        return Sample(image=image, label=label, name=name)


# --------------------------------------------------------------------------- preview / speed

def preview(samples) -> np.ndarray:
    """One image: each (image, label) pair side by side (label colourised), pairs stacked vertically."""
    rows = [np.concatenate([img, colorize(lab, CITYSCAPES_PALETTE)], axis=1) for img, lab in samples]
    gap = np.full((2, rows[0].shape[1], 3), 255, np.uint8)
    return np.concatenate([x for r in rows for x in (r, gap)][:-1], axis=0)


def images_per_second(size=(128, 256), n=100, seed=0, split="train") -> float:
    """Rendering speed in this process (scenes ``0..n-1``)."""
    start = time.perf_counter()
    for i in range(n):
        render_scene(seed, split, i, size)
    return n / (time.perf_counter() - start)


def main(argv=None) -> None:
    from PIL import Image

    from archlab import cli

    p = argparse.ArgumentParser(prog="python -m archlab.data.synthstreets",
                                description="Write a preview grid of synthstreets scenes; print the rendering speed.")
    cli.add_out_dir(p, required=True, help="folder for synthstreets_preview.png")
    p.add_argument("--n", type=cli.positive_int, default=8, help="scenes in the preview")
    cli.add_size(p, default=(256, 512), help="HxW")
    p.add_argument("--split", default="val", choices=tuple(SPLIT_ID))
    p.add_argument("--seed", type=cli.non_negative_int, default=0)
    p.add_argument("--bench", type=cli.non_negative_int, default=50, help="scenes rendered for the speed figure")
    a = p.parse_args(argv)
    try:
        size = _check_size(a.size)
    except (ValueError, DataError) as e:
        p.error(f"argument --size: expected HxW with both sides >= {MIN_SIZE}, e.g. 256x512 ({e})")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    grid = preview([render_scene(a.seed, a.split, i, size) for i in range(a.n)])
    Image.fromarray(grid).save(out / "synthstreets_preview.png")
    rate = images_per_second(size, a.bench, a.seed, a.split)
    print(f"wrote {out / 'synthstreets_preview.png'} ({a.n} scenes at {size[0]}x{size[1]}); "
          f"{rate:.0f} images/s at {size[0]}x{size[1]} (this process, {a.bench} scenes)")


if __name__ == "__main__":
    main()
