"""diffmem_theory.data: every format round-trips, scaling, the seeded split, digits, bad input.

Each test writes small files of one format into ``tmp_path`` (IDX with NumPy, CIFAR-10 batches
with pickle, PNG images with Pillow) and reads them back with :func:`load`.
"""

from __future__ import annotations

import gzip
import pickle
import sys

import numpy as np
import pytest
from PIL import Image

from diffmem_theory import data
from diffmem_theory.data import DataFileNotFoundError, Dataset, digits, load, read_idx, split

RNG = np.random.default_rng(17)
IMAGES = RNG.integers(0, 256, (6, 5, 4), dtype=np.uint8)  # 6 grayscale 5 x 4 images
COLOR = RNG.integers(0, 256, (3, 4, 5, 3), dtype=np.uint8)  # 3 RGB 4 x 5 images
CIFAR = RNG.integers(0, 256, (3, 4, 4, 3), dtype=np.uint8)  # 3 RGB 4 x 4 images (square)


def _write_idx(path, arr, code=0x08, compress=False):
    header = bytes([0, 0, code, arr.ndim]) + np.asarray(arr.shape, dtype=">u4").tobytes()
    raw = header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()
    path.write_bytes(gzip.compress(raw) if compress else raw)


def _write_cifar(path, images, labels, protocol=2):
    """A CIFAR-10 python batch: bytes keys, ``data`` (n, 3 s s) uint8 with channels first."""
    flat = images.transpose(0, 3, 1, 2).reshape(len(images), -1)
    batch = {b"batch_label": b"test", b"data": flat, b"labels": [int(v) for v in labels]}
    path.write_bytes(pickle.dumps(batch, protocol=protocol))


def _write_pngs(folder, images, mode=None):
    folder.mkdir(exist_ok=True)
    for i, im in enumerate(images):
        Image.fromarray(im, mode).save(folder / f"img{i:02d}.png")


# ----------------------------------------------------------------------------------------------
# round trips
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(6, 7), (6, 5, 4), (3, 4, 5, 3)])
def test_npy_round_trip_each_layout(tmp_path, shape):
    raw = RNG.normal(size=shape)
    np.save(tmp_path / "a.npy", raw)
    ds = load(tmp_path / "a.npy", scale="none")
    assert ds.x.dtype == np.float64 and ds.x.shape == (shape[0], int(np.prod(shape[1:])))
    assert ds.image_shape == shape[1:] and ds.d == ds.x.shape[1] and len(ds) == shape[0]
    assert np.array_equal(ds.images(), raw)
    assert np.array_equal(ds.x, raw.reshape(shape[0], -1))  # row-major, channels last
    assert ds.labels is None and ds.value_range is None and ds.source == str(tmp_path / "a.npy")
    kept = load(tmp_path / "a.npy", scale="none", flatten=False)
    assert np.array_equal(kept.x, raw) and np.array_equal(kept.images(), raw)


def test_npz_only_array_or_named_key(tmp_path):
    np.savez(tmp_path / "one.npz", images=IMAGES)
    assert np.array_equal(load(tmp_path / "one.npz", scale="none").images(), IMAGES)
    np.savez(tmp_path / "two.npz", x_train=IMAGES, x_test=IMAGES[:2])
    ds = load(tmp_path / "two.npz", key="x_test", scale="none")
    assert np.array_equal(ds.images(), IMAGES[:2])
    with pytest.raises(ValueError, match=r"two\.npz.*holds 2 arrays.*key="):
        load(tmp_path / "two.npz")
    with pytest.raises(ValueError, match=r"two\.npz.*no array 'y'"):
        load(tmp_path / "two.npz", key="y")
    np.save(tmp_path / "a.npy", IMAGES)
    with pytest.raises(ValueError, match=r"a\.npy.*key='x' is for \.npz"):
        load(tmp_path / "a.npy", key="x")


@pytest.mark.parametrize("compress", [False, True])
def test_idx_round_trip_with_labels_beside(tmp_path, compress):
    gz = ".gz" if compress else ""
    labels = np.arange(6, dtype=np.uint8)
    _write_idx(tmp_path / f"train-images-idx3-ubyte{gz}", IMAGES, compress=compress)
    _write_idx(tmp_path / f"train-labels-idx1-ubyte{gz}", labels, compress=compress)
    assert np.array_equal(read_idx(tmp_path / f"train-images-idx3-ubyte{gz}"), IMAGES)
    ds = load(tmp_path / f"train-images-idx3-ubyte{gz}")
    assert ds.image_shape == (5, 4) and ds.value_range == (0.0, 255.0)
    assert np.allclose(ds.x, IMAGES.reshape(6, -1) / 255.0, rtol=0, atol=1e-15)
    assert ds.labels.dtype == np.int64 and ds.labels.tolist() == labels.tolist()


def test_idx_other_types_and_names(tmp_path):
    floats = RNG.normal(size=(4, 3)).astype(np.float32)
    _write_idx(tmp_path / "points.idx2", floats, code=0x0D)
    assert np.array_equal(read_idx(tmp_path / "points.idx2"), floats)
    ds = load(tmp_path / "points.idx2")  # float data: joint min-max onto [0, 1]
    assert ds.labels is None and ds.value_range == (float(floats.min()), float(floats.max()))
    assert ds.x.min() == 0.0 and ds.x.max() == 1.0


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_cifar_batch_channels_moved_last(tmp_path, protocol):
    _write_cifar(tmp_path / "data_batch_1", CIFAR, [3, 1, 4], protocol)
    ds = load(tmp_path / "data_batch_1", scale="none")
    assert ds.image_shape == (4, 4, 3) and ds.labels.tolist() == [3, 1, 4]
    assert np.array_equal(ds.images(), CIFAR)
    # the first three values of a row are the red, green, blue of the top-left pixel
    assert ds.x[0, :3].tolist() == CIFAR[0, 0, 0].tolist()


def test_cifar_batch_pickled_by_numpy_1(tmp_path):
    """The CIFAR-10 files name NumPy 1's ``numpy.core.multiarray._reconstruct``."""
    _write_cifar(tmp_path / "test_batch", CIFAR, [1, 2, 3])
    old = (tmp_path / "test_batch").read_bytes().replace(b"numpy._core.", b"numpy.core.")
    assert b"numpy.core.multiarray\n_reconstruct" in old
    (tmp_path / "test_batch").write_bytes(old)
    assert np.array_equal(load(tmp_path / "test_batch", scale="none").images(), CIFAR)


def test_cifar_directory_reads_train_batches_in_order(tmp_path):
    more = RNG.integers(0, 256, (2, 4, 4, 3), dtype=np.uint8)
    extra = RNG.integers(0, 256, (1, 4, 4, 3), dtype=np.uint8)
    _write_cifar(tmp_path / "data_batch_10", extra, [9])
    _write_cifar(tmp_path / "data_batch_2", more, [5, 6])
    _write_cifar(tmp_path / "data_batch_1", CIFAR, [0, 1, 2])
    _write_cifar(tmp_path / "test_batch", CIFAR[:1], [7])
    (tmp_path / "batches.meta").write_bytes(pickle.dumps({b"label_names": [b"a"]}))
    ds = load(tmp_path, scale="none")
    assert np.array_equal(ds.images(), np.concatenate([CIFAR, more, extra]))
    assert ds.labels.tolist() == [0, 1, 2, 5, 6, 9]
    assert load(tmp_path, limit=4).x.shape == (4, 48)
    assert load(tmp_path / "test_batch", scale="none").labels.tolist() == [7]


def test_cifar_pickle_cannot_run_code(tmp_path):
    class Exploit:
        def __reduce__(self):
            return (sys.exit, (3,))

    (tmp_path / "evil.pkl").write_bytes(pickle.dumps({"data": Exploit()}))
    with pytest.raises(ValueError, match=r"evil\.pkl.*refused to load"):
        load(tmp_path / "evil.pkl")


def test_png_folder_gray_and_rgb(tmp_path):
    _write_pngs(tmp_path / "gray", IMAGES)
    ds = load(tmp_path / "gray")
    assert ds.image_shape == (5, 4) and ds.value_range == (0.0, 255.0)
    assert np.array_equal(ds.x * 255.0, IMAGES.reshape(6, -1).astype(np.float64))
    _write_pngs(tmp_path / "rgb", COLOR)
    ds = load(tmp_path / "rgb", scale="none")
    assert ds.image_shape == (4, 5, 3) and np.array_equal(ds.images(), COLOR)
    assert load(tmp_path / "rgb" / "img01.png", scale="none").images()[0].tolist() == (
        COLOR[1].tolist()
    )
    assert load(tmp_path / "rgb", limit=2).x.shape == (2, 60)
    gray = load(tmp_path / "rgb", color="L", scale="none")
    assert gray.image_shape == (4, 5)
    luma = np.asarray(Image.fromarray(COLOR[0]).convert("L"))  # Pillow's ITU-R 601-2 luma
    assert np.array_equal(gray.images()[0], luma)
    assert load(tmp_path / "gray", color="RGB").image_shape == (5, 4, 3)


def test_png_folder_mixed_modes_auto_becomes_rgb(tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    Image.fromarray(COLOR[0]).save(folder / "a.png")
    Image.fromarray(IMAGES[0, :4, :4].repeat(2, axis=1)[:, :5]).save(folder / "b.png")
    rgba = np.concatenate([COLOR[1], np.full((4, 5, 1), 7, np.uint8)], axis=2)
    Image.fromarray(rgba).save(folder / "c.png")  # alpha dropped
    ds = load(folder, scale="none")
    assert ds.image_shape == (4, 5, 3)
    gray = ds.images()[1]
    assert np.array_equal(gray[..., 0], gray[..., 2]) and np.array_equal(ds.images()[2], COLOR[1])
    (folder / "notes.txt").write_text("other files are ignored")
    assert len(load(folder)) == 3


def test_png_16_bit_grayscale(tmp_path):
    deep = RNG.integers(0, 65536, (2, 3, 4)).astype(np.uint16)
    folder = tmp_path / "deep"
    folder.mkdir()
    for i, im in enumerate(deep):
        Image.fromarray(im).save(folder / f"{i}.png")
    ds = load(folder)
    assert ds.value_range == (0.0, 65535.0) and np.allclose(ds.x * 65535.0, deep.reshape(2, -1))
    with pytest.raises(ValueError, match=r"0\.png.*16-bit grayscale"):
        load(folder, color="RGB")
    Image.fromarray(IMAGES[0, :3]).save(folder / "z.png")
    with pytest.raises(ValueError, match=r"z\.png.*8-bit pixels.*share a depth"):
        load(folder)


# ----------------------------------------------------------------------------------------------
# scaling
# ----------------------------------------------------------------------------------------------


def test_scales_of_8_bit_pixels(tmp_path):
    np.save(tmp_path / "a.npy", IMAGES)
    raw = IMAGES.reshape(6, -1).astype(np.float64)
    x01 = load(tmp_path / "a.npy").x
    x11 = load(tmp_path / "a.npy", scale="[-1,1]").x
    assert np.allclose(x01, raw / 255.0, rtol=0, atol=1e-15)
    assert np.allclose(x11, raw / 127.5 - 1.0, rtol=0, atol=1e-15)
    assert np.array_equal(load(tmp_path / "a.npy", scale="none").x, raw)
    assert x01.min() >= 0 and x01.max() <= 1 and x11.min() >= -1 and x11.max() <= 1


def test_scales_of_float_data_min_max_or_value_range(tmp_path):
    raw = RNG.uniform(0.2, 0.7, (5, 3))
    np.save(tmp_path / "f.npy", raw)
    ds = load(tmp_path / "f.npy")
    assert ds.value_range == (raw.min(), raw.max())
    assert np.allclose(ds.x, (raw - raw.min()) / (raw.max() - raw.min()), rtol=0, atol=1e-15)
    kept = load(tmp_path / "f.npy", value_range=(0, 1))
    assert np.allclose(kept.x, raw, rtol=0, atol=1e-15)
    assert np.allclose(load(tmp_path / "f.npy", value_range=(0, 1), scale="[-1,1]").x, 2 * raw - 1)
    with pytest.raises(ValueError, match=r"f\.npy.*outside value_range=\(0\.3, 1\)"):
        load(tmp_path / "f.npy", value_range=(0.3, 1))
    huge = np.array([[-1.7e308, 1.7e308], [0.0, 1.0]])
    np.save(tmp_path / "huge.npy", huge)
    assert load(tmp_path / "huge.npy").x[0].tolist() == [0.0, 1.0]  # no overflow to inf


def test_limit_takes_the_first_samples(tmp_path):
    np.save(tmp_path / "a.npy", IMAGES)
    ds = load(tmp_path / "a.npy", limit=2, scale="none")
    assert np.array_equal(ds.images(), IMAGES[:2])
    assert len(load(tmp_path / "a.npy", limit=100)) == 6


# ----------------------------------------------------------------------------------------------
# split
# ----------------------------------------------------------------------------------------------


def test_split_seeded_disjoint_covering_deterministic():
    x = np.arange(40).reshape(20, 2)
    train, held = split(x, held_out=0.25, seed=3)
    assert held.shape == (5, 2) and train.shape == (15, 2)
    rows = np.concatenate([train[:, 0], held[:, 0]])
    assert sorted(rows.tolist()) == list(range(0, 40, 2))  # disjoint and covering
    assert np.all(np.diff(train[:, 0]) > 0) and np.all(np.diff(held[:, 0]) > 0)  # order kept
    again = split(x, held_out=0.25, seed=3)
    assert np.array_equal(again[0], train) and np.array_equal(again[1], held)
    other = split(x, held_out=0.25, seed=4)
    assert not np.array_equal(other[1], held)
    gen = split(x, held_out=5, seed=np.random.default_rng(3))
    assert np.array_equal(gen[1], held)  # an int count, and a Generator seed


def test_split_dataset_keeps_labels_and_shape():
    ds = digits(limit=50, flatten=False)
    train, held = split(ds, held_out=10, seed=0)
    assert isinstance(train, Dataset) and (len(train), len(held)) == (40, 10)
    assert train.x.shape == (40, 8, 8) and held.image_shape == (8, 8)
    for part in (train, held):
        for row, label in zip(part.x, part.labels, strict=True):
            k = int(np.flatnonzero((ds.x == row).all(axis=(1, 2)))[0])
            assert ds.labels[k] == label


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"held_out": 0.01}, r"holds out 0"),
        ({"held_out": 0.99}, r"holds out 10"),
        ({"held_out": 0.0}, r"held_out must be > 0"),
        ({"held_out": 1.0}, r"held_out must be < 1"),
        ({"held_out": 10}, r"held_out must be <= 9"),
        ({"held_out": 0}, r"held_out must be >= 1"),
        ({"held_out": float("nan")}, r"held_out must be finite"),
    ],
)
def test_split_bad_held_out(kwargs, match):
    with pytest.raises(ValueError, match=match):
        split(np.zeros((10, 2)), **kwargs)


def test_split_bad_data_and_seed():
    with pytest.raises(ValueError, match=r"at least 2 samples.*\(1, 3\)"):
        split(np.zeros((1, 3)))
    with pytest.raises(ValueError, match=r"at least 2 samples"):
        split(np.float64(1.0))
    with pytest.raises(TypeError, match=r"seed must be"):
        split(np.zeros((4, 2)), seed=0.5)


# ----------------------------------------------------------------------------------------------
# digits
# ----------------------------------------------------------------------------------------------


def test_digits_shape_range_and_scales():
    pytest.importorskip("sklearn")
    ds = digits()
    assert ds.x.shape == (1797, 64) and ds.x.dtype == np.float64 and ds.image_shape == (8, 8)
    assert ds.x.min() == 0.0 and ds.x.max() == 1.0 and ds.value_range == (0.0, 16.0)
    assert ds.labels.shape == (1797,) and set(ds.labels.tolist()) == set(range(10))
    raw = digits(scale="none").x
    assert raw.max() == 16.0 and np.array_equal(raw / 16.0, ds.x)
    x11 = digits(scale="[-1,1]").x
    assert x11.min() == -1.0 and x11.max() == 1.0 and np.array_equal(x11, raw / 8.0 - 1.0)


def test_digits_without_scikit_learn_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)  # import fails
    with pytest.raises(ImportError, match=r"diffmem-theory\[digits\]"):
        digits()


# ----------------------------------------------------------------------------------------------
# bad input: each names the file and what is wrong
# ----------------------------------------------------------------------------------------------


def test_missing_path_and_unknown_type(tmp_path):
    for reader in (load, read_idx):
        with pytest.raises(FileNotFoundError, match=r"missing\.npy.*does not exist"):
            reader(tmp_path / "missing.npy")
    with pytest.raises(DataFileNotFoundError):  # also a ValueError
        load(tmp_path / "missing.npy")
    assert issubclass(DataFileNotFoundError, ValueError)
    (tmp_path / "table.csv").write_text("1,2\n")
    with pytest.raises(ValueError, match=r"table\.csv.*unknown data file type"):
        load(tmp_path / "table.csv")
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    with pytest.raises(ValueError, match=r"empty.*neither PNG images"):
        load(empty_dir)
    with pytest.raises(TypeError, match=r"path must be a str"):
        load(3)


@pytest.mark.parametrize(
    ("array", "match"),
    [
        (np.zeros((0, 4)), r"empty"),
        (np.zeros((3, 0)), r"empty"),
        (np.zeros(5), r"\(N, d\) vectors.*shape \(5,\)"),
        (np.zeros((2, 2, 2, 2, 2)), r"shape \(2, 2, 2, 2, 2\)"),
        (np.array([[1.0, np.nan], [0.0, 1.0], [np.inf, 0.0]]), r"2 sample\(s\) hold NaN or inf"),
        (np.ones((3, 2)), r"every value is 1.*min-max scaling is undefined"),
        (np.zeros((2, 2), dtype=complex), r"real numeric array, got dtype complex128"),
        (np.array([["a", "b"]]), r"real numeric array"),
    ],
)
def test_bad_arrays(tmp_path, array, match):
    np.save(tmp_path / "bad.npy", array)
    with pytest.raises(ValueError, match=r"bad\.npy.*" + match):
        load(tmp_path / "bad.npy")


def test_bad_numpy_files(tmp_path):
    (tmp_path / "text.npy").write_text("not numpy")
    with pytest.raises(ValueError, match=r"text\.npy.*not a readable NumPy file"):
        load(tmp_path / "text.npy")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match=r"obj\.npy.*not a readable NumPy file"):
        load(tmp_path / "obj.npy")
    (tmp_path / "broken.npz").write_bytes(b"PK\x03\x04broken")
    with pytest.raises(ValueError, match=r"broken\.npz.*not a readable NumPy file"):
        load(tmp_path / "broken.npz")
    np.save(tmp_path / "cut.npy", IMAGES)
    (tmp_path / "cut.npy").write_bytes((tmp_path / "cut.npy").read_bytes()[:-10])
    with pytest.raises(ValueError, match=r"cut\.npy.*not a readable NumPy file"):
        load(tmp_path / "cut.npy")


def test_bad_idx_files(tmp_path):
    bad = tmp_path / "bad-idx3-ubyte"
    bad.write_bytes(bytes([1, 2, 8, 3]))
    with pytest.raises(ValueError, match=r"bad-idx3-ubyte.*bad magic number 01020803"):
        load(bad)
    bad.write_bytes(bytes([0, 0, 8, 3, 0, 0]))
    with pytest.raises(ValueError, match=r"bad-idx3-ubyte.*truncated IDX header"):
        load(bad)
    _write_idx(bad, IMAGES)
    bad.write_bytes(bad.read_bytes()[:-1])
    with pytest.raises(ValueError, match=r"bad-idx3-ubyte.*need 120 data bytes.*has 119"):
        load(bad)
    gz = tmp_path / "bad-idx3-ubyte.gz"
    gz.write_bytes(b"\x1f\x8b" + b"junk")
    with pytest.raises(ValueError, match=r"bad-idx3-ubyte\.gz.*corrupt gzip"):
        load(gz)
    _write_idx(tmp_path / "lab-idx1-ubyte", np.arange(4, dtype=np.uint8))
    with pytest.raises(ValueError, match=r"lab-idx1-ubyte.*shape \(4,\)"):
        load(tmp_path / "lab-idx1-ubyte")
    _write_idx(tmp_path / "t-images-idx3-ubyte", IMAGES)
    _write_idx(tmp_path / "t-labels-idx1-ubyte", np.arange(4, dtype=np.uint8))
    with pytest.raises(ValueError, match=r"t-labels-idx1-ubyte.*shape \(4,\), expected \(6,\)"):
        load(tmp_path / "t-images-idx3-ubyte")


def test_bad_cifar_batches(tmp_path):
    f = tmp_path / "data_batch_1"
    f.write_bytes(b"garbage")
    with pytest.raises(ValueError, match=r"data_batch_1.*not a readable CIFAR-10"):
        load(f)
    f.write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(ValueError, match=r"data_batch_1.*pickled dict, got list"):
        load(f)
    f.write_bytes(pickle.dumps({b"labels": [1]}))
    with pytest.raises(ValueError, match=r"data_batch_1.*needs a 'data' entry"):
        load(f)
    f.write_bytes(pickle.dumps({b"data": np.zeros((2, 100), np.uint8)}))
    with pytest.raises(ValueError, match=r"data_batch_1.*uint8 \(n, 3 \* s \* s\).*\(2, 100\)"):
        load(f)
    f.write_bytes(pickle.dumps({b"data": np.zeros((2, 12), np.uint8), b"labels": [1]}))
    with pytest.raises(ValueError, match=r"data_batch_1.*'labels' must be 2 integers"):
        load(f)
    _write_cifar(tmp_path / "data_batch_2", RNG.integers(0, 256, (1, 3, 3, 3), np.uint8), [0])
    f.write_bytes(pickle.dumps({b"data": np.zeros((2, 12), np.uint8)}))
    with pytest.raises(ValueError, match=r"data_batch_2.*images of shape \(3, 3, 3\)"):
        load(tmp_path)
    Image.fromarray(IMAGES[0]).save(tmp_path / "stray.png")
    with pytest.raises(ValueError, match=r"both CIFAR-10 batches and PNG images"):
        load(tmp_path)


def test_bad_png_files(tmp_path):
    _write_pngs(tmp_path / "sizes", IMAGES[:2])
    Image.fromarray(IMAGES[2, :3]).save(tmp_path / "sizes" / "img99.png")
    with pytest.raises(ValueError, match=r"img99\.png.*is 4 x 3 pixels.*img00\.png.*4 x 5"):
        load(tmp_path / "sizes")
    _write_pngs(tmp_path / "junk", IMAGES[:2])
    (tmp_path / "junk" / "img01.png").write_text("not an image")
    with pytest.raises(ValueError, match=r"img01\.png.*not a readable image"):
        load(tmp_path / "junk")
    Image.fromarray(IMAGES[0]).save(tmp_path / "fake.png", format="BMP")
    with pytest.raises(ValueError, match=r"fake\.png.*is a BMP image, not a PNG"):
        load(tmp_path / "fake.png")
    Image.fromarray(IMAGES[0]).save(tmp_path / "cut.png")
    (tmp_path / "cut.png").write_bytes((tmp_path / "cut.png").read_bytes()[:40])
    with pytest.raises(ValueError, match=r"cut\.png.*not a readable image"):
        load(tmp_path / "cut.png")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"scale": "0-1"}, r"scale must be one of"),
        ({"flatten": 1}, r"flatten must be True or False"),
        ({"limit": 0}, r"limit must be >= 1"),
        ({"limit": 2.5}, r"limit must be an integer"),
        ({"color": "CMYK"}, r"color must be one of"),
        ({"key": 3}, r"key must be the name"),
        ({"value_range": (1, 0)}, r"lo < hi"),
        ({"value_range": 5}, r"value_range must be a pair"),
        ({"value_range": (0, np.inf)}, r"value_range\[1\] must be finite"),
    ],
)
def test_bad_options(tmp_path, kwargs, match):
    np.save(tmp_path / "a.npy", IMAGES)
    with pytest.raises(ValueError, match=match):
        load(tmp_path / "a.npy", **kwargs)


def test_dataset_built_by_hand_is_validated():
    ds = Dataset(np.arange(6).reshape(2, 3), (3,), [1, 2], "mine", "none", None)
    assert ds.x.dtype == np.float64 and ds.labels.dtype == np.int64 and ds.d == 3
    ok = {"x": np.zeros((2, 4)), "image_shape": (2, 2), "labels": None, "source": "s"}
    ok |= {"scale": "[0,1]", "value_range": (0, 1)}
    assert Dataset(**ok).value_range == (0.0, 1.0)
    bad = [
        ({"x": np.array([[1 + 1j, 0, 0, 0]])}, ValueError, r"x must be a real"),
        ({"x": np.array([[np.nan, 0, 0, 0]])}, ValueError, r"x must be finite"),
        ({"x": np.zeros((2, 5))}, ValueError, r"x must be \(N, 4\).*shape \(2, 5\)"),
        ({"x": np.zeros((0, 4))}, ValueError, r"N >= 1"),
        ({"image_shape": 4}, ValueError, r"image_shape must be a tuple"),
        ({"image_shape": (2, 0)}, ValueError, r"image_shape entry must be >= 1"),
        ({"labels": [1.5, 2.0]}, ValueError, r"labels must be None or 2 integers"),
        ({"labels": [1]}, ValueError, r"labels must be None or 2 integers"),
        ({"source": 3}, TypeError, r"source must be a str"),
        ({"scale": "0-1"}, ValueError, r"scale must be one of"),
        ({"value_range": None}, ValueError, r"None exactly when scale='none'"),
        ({"value_range": (1, 1)}, ValueError, r"lo < hi"),
    ]
    for change, error, match in bad:
        with pytest.raises(error, match=match):
            Dataset(**(ok | change))


def test_module_exports():
    assert set(data.__all__) >= {"Dataset", "digits", "load", "read_idx", "split", "SCALES"}
