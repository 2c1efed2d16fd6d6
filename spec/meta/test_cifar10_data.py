"""The generated CIFAR-10 data set: real on-disk format, checksums, refusals.

Plumbing of the project, not a lesson of the note: chapter 10 trains on this data; these
tests check that it is what torchvision's real ``CIFAR10`` class expects, and that its
integrity checks stay on.
"""

import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torchvision

from reference import cifar10_data
from spec.helpers.data import N_TEST, N_TRAIN


def test_the_generated_files_are_in_the_real_cifar10_format(cifar_root):
    """cifar-10-batches-py/ holds data_batch_1..5, test_batch, batches.meta as latin1 pickles.

    Each batch: ``data`` an N x 3072 uint8 array (1024 red, then green, then blue values
    of a 32x32 image, row-major), ``labels`` a list of ints in 0..9.
    """
    folder = cifar_root / "cifar-10-batches-py"
    names = {p.name for p in folder.iterdir()}
    assert names >= {f"data_batch_{i}" for i in range(1, 6)} | {"test_batch", "batches.meta"}
    sizes = []
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with open(folder / name, "rb") as f:
            entry = pickle.load(f, encoding="latin1")
        assert entry["data"].dtype == np.uint8
        assert entry["data"].shape == (len(entry["labels"]), 3072)
        assert all(isinstance(v, int) and 0 <= v <= 9 for v in entry["labels"])
        sizes.append(len(entry["labels"]))
    assert sum(sizes[:5]) == N_TRAIN
    assert sizes[5] == N_TEST


def test_each_file_holds_the_real_sets_keys_and_labels(tmp_path):
    """As the real archive: every batch a protocol-2 pickle of ``batch_label`` ("training
    batch 1 of 5" ... "testing batch 1 of 1"), ``labels``, ``data``, ``filenames`` (one per
    image); ``batches.meta`` of ``num_cases_per_batch`` (the first batch's size),
    ``label_names`` (the ten classes) and ``num_vis`` (3072 values per image)."""
    folder = cifar10_data.write_cifar10(tmp_path, 21, 3, seed=0)  # batches of 5, 4, 4, 4, 4
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    labels = [f"training batch {i} of 5" for i in range(1, 6)] + ["testing batch 1 of 1"]
    for name, label in zip(names, labels, strict=True):
        raw = (folder / name).read_bytes()
        assert raw[:2] == b"\x80\x02", f"{name}: expected a protocol-2 pickle"
        entry = pickle.loads(raw, encoding="latin1")
        assert sorted(entry) == ["batch_label", "data", "filenames", "labels"], name
        assert entry["batch_label"] == label
        assert len(entry["filenames"]) == len(entry["labels"]) == entry["data"].shape[0]
    raw = (folder / "batches.meta").read_bytes()
    assert raw[:2] == b"\x80\x02", "batches.meta: expected a protocol-2 pickle"
    meta = pickle.loads(raw, encoding="latin1")
    assert meta == {"num_cases_per_batch": 5, "label_names": list(cifar10_data.CLASSES),
                    "num_vis": 3072}  # fmt: skip
    manifest = cifar10_data.read_manifest(tmp_path)
    assert (manifest["generator"], manifest["format_version"]) == ("reference.cifar10_data", 1)


def test_a_folder_without_a_manifest_loads_through_torchvisions_own_class(tmp_path,
                                                                          monkeypatch):  # fmt: skip
    """Where there is no MANIFEST.json (the real set), load_cifar10 hands the folder to the
    plain ``CIFAR10`` class: the split asked for, with the transform. The generated files
    cannot match the real MD5s, so only here torchvision's MD5 check is stubbed."""
    from torchvision.transforms import ToTensor

    folder = cifar10_data.write_cifar10(tmp_path, 10, 5, seed=0)
    (folder / "MANIFEST.json").unlink()
    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", lambda *a, **k: True)
    train = cifar10_data.load_cifar10(tmp_path, train=True, transform=ToTensor())
    assert type(train) is torchvision.datasets.CIFAR10
    assert len(train) == 10
    assert train[0][0].shape == (3, 32, 32)  # the transform was applied
    assert len(cifar10_data.load_cifar10(tmp_path)) == 10  # the training split by default
    test = cifar10_data.load_cifar10(tmp_path, train=False)
    assert len(test) == 5
    assert test[0][0].size == (32, 32)  # a PIL image: no transform


def test_the_plain_class_still_checks_the_real_checksums(cifar_root):
    """The unmodified CIFAR10 class refuses the generated files: its MD5s are the real set's.

    Integrity checking is not switched off anywhere: only ``ManifestCIFAR10`` swaps in
    the checksums from our MANIFEST.json.
    """
    with pytest.raises(RuntimeError, match="Dataset not found or corrupted"):
        torchvision.datasets.CIFAR10(cifar_root, train=True, download=False)


def test_the_tutorial_s_exact_call_loads_the_generated_set(cifar_root):
    """ManifestCIFAR10(root=, train=, download=True, transform=) — the tutorial's call — loads it.

    So a user can paste the tutorial and swap only the class name; ``download=True``
    changes nothing where the files are there (as in torchvision).
    """
    transform = torchvision.transforms.ToTensor()
    trainset = cifar10_data.ManifestCIFAR10(
        root=str(cifar_root), train=True, download=True, transform=transform
    )
    testset = cifar10_data.ManifestCIFAR10(
        root=str(cifar_root), train=False, download=False, transform=transform
    )
    assert (len(trainset), len(testset)) == (N_TRAIN, N_TEST)
    assert trainset[0][0].shape == (3, 32, 32)


def test_download_true_without_a_generated_set_explains_itself_in_one_line(tmp_path):
    """download=True where no set was written: one line saying how to write one, nothing created."""
    with pytest.raises(RuntimeError) as caught:
        cifar10_data.ManifestCIFAR10(root=str(tmp_path), train=True, download=True)
    assert str(caught.value) == (
        f"download=True: no generated CIFAR-10 under {tmp_path}, and a generated set is "
        f"written, not downloaded: run `python -m reference.cifar10_data {tmp_path}` (the real "
        "one downloads with torchvision.datasets.CIFAR10, given a network)"
    )
    assert not list(tmp_path.iterdir())
    # without download=True (its default, as torchvision's) the missing manifest is named
    with pytest.raises(FileNotFoundError) as missing:
        cifar10_data.ManifestCIFAR10(root=str(tmp_path))
    assert str(missing.value) == (
        f"{tmp_path / 'cifar-10-batches-py' / 'MANIFEST.json'} not found: not a data set "
        "written by reference.cifar10_data"
    )


def test_the_manifest_class_takes_torchvisions_arguments_and_defaults(cifar_root):
    """ManifestCIFAR10(root) is the training set, as CIFAR10(root) is; target_transform is
    applied as torchvision applies it."""
    assert len(cifar10_data.ManifestCIFAR10(cifar_root)) == N_TRAIN
    plain = cifar10_data.ManifestCIFAR10(cifar_root, train=False)
    shifted = cifar10_data.ManifestCIFAR10(cifar_root, train=False,
                                           target_transform=lambda y: y + 100)  # fmt: skip
    assert [shifted[i][1] for i in range(5)] == [plain[i][1] + 100 for i in range(5)]


@pytest.mark.parametrize("damage", ["flip a byte", "truncate", "delete"])
def test_a_corrupted_truncated_or_missing_file_is_refused_by_name(cifar_root, tmp_path, damage):
    """A damaged data file is refused with an error that names it."""
    root = tmp_path / "copy"
    shutil.copytree(cifar_root, root)
    victim = root / "cifar-10-batches-py" / "data_batch_3"
    if damage == "flip a byte":
        raw = bytearray(victim.read_bytes())
        raw[len(raw) // 2] ^= 0xFF
        victim.write_bytes(bytes(raw))
    elif damage == "truncate":
        victim.write_bytes(victim.read_bytes()[:1000])
    else:
        victim.unlink()
    expected = "missing" if damage == "delete" else "corrupted or truncated"
    with pytest.raises(RuntimeError, match=f"CIFAR-10 file {expected}: .*data_batch_3"):
        cifar10_data.load_cifar10(root)


class CountedMD5:
    """hashlib with ``md5`` counted: how many files were hashed."""

    def __init__(self):
        import hashlib

        self.calls, self._md5 = 0, hashlib.md5

    def md5(self, *args):
        self.calls += 1
        return self._md5(*args)


def test_a_data_set_hashes_each_file_once_and_a_settled_file_once_per_process(
    tmp_path, monkeypatch
):
    """Loading checks each file's MD5 once (torchvision's own check would repeat it); an
    unchanged file last changed seconds ago is not hashed again; a change is seen."""
    import hashlib

    from torchvision.datasets import utils

    folder = cifar10_data.write_cifar10(tmp_path / "set", 10, 5, seed=0)
    counted, by_torchvision = CountedMD5(), []
    monkeypatch.setattr(cifar10_data, "hashlib", counted)
    monkeypatch.setattr(cifar10_data, "_HASHED", {})
    calculate_md5 = utils.calculate_md5

    def counted_by_torchvision(path, **kwargs):
        by_torchvision.append(path)
        return calculate_md5(path, **kwargs)

    monkeypatch.setattr(utils, "calculate_md5", counted_by_torchvision)
    cifar10_data.load_cifar10(tmp_path / "set")
    files = len(cifar10_data.TRAIN_FILES) + len(cifar10_data.TEST_FILES) + 1  # + the meta
    assert counted.calls == files  # just written: not kept, hashed each time, once a load
    assert len(by_torchvision) <= 1, by_torchvision  # at most its own look at the meta file
    # a file just written and changed at once (same size, maybe the same clock tick)
    victim = folder / "data_batch_1"
    first = cifar10_data._md5(victim)
    raw = bytearray(victim.read_bytes())
    raw[-1] ^= 0xFF
    victim.write_bytes(bytes(raw))
    assert cifar10_data._md5(victim) == hashlib.md5(bytes(raw)).hexdigest() != first
    # seconds later: kept, until the file changes
    later = os.stat(victim).st_ctime_ns + cifar10_data._SETTLED_NS + 1
    monkeypatch.setattr(cifar10_data, "_now_ns", lambda: later)
    counted.calls = 0
    for _ in range(3):
        assert cifar10_data._md5(victim) == hashlib.md5(bytes(raw)).hexdigest()
    assert counted.calls == 1
    with victim.open("ab") as f:
        f.write(b"x")
    assert cifar10_data._md5(victim) == hashlib.md5(bytes(raw) + b"x").hexdigest()
    assert counted.calls == 2


def test_the_generator_is_deterministic_and_refuses_to_overwrite(tmp_path):
    """The same seed writes the same bytes; an existing folder is never overwritten."""
    a = cifar10_data.write_cifar10(tmp_path / "a", 10, 5, seed=3)
    b = cifar10_data.write_cifar10(tmp_path / "b", 10, 5, seed=3)
    c = cifar10_data.write_cifar10(tmp_path / "c", 10, 5, seed=4)
    d = cifar10_data.write_cifar10(tmp_path / "d", 10, 5, seed=3, difficulty=0.0)
    md5 = [cifar10_data.read_manifest(p.parent)["md5"] for p in (a, b, c, d)]
    assert md5[0] == md5[1] != md5[2]
    assert md5[3]["data_batch_1"] != md5[0]["data_batch_1"]  # the difficulty reaches the images
    with pytest.raises(FileExistsError, match="already exists"):
        cifar10_data.write_cifar10(tmp_path / "a", 10, 5)


def test_difficulty_is_how_far_images_stray_from_their_class():
    """At difficulty 0 a class's images share its colour: their mean colours differ only by
    pixel noise; with difficulty each image's colour strays, the more the harder."""
    labels = np.repeat(np.arange(10), 50)

    def spread(difficulty):
        images = cifar10_data.make_images(labels, np.random.default_rng(0), difficulty)
        means = images.reshape(len(labels), 3, -1).mean(axis=2)  # (N, 3) mean colour
        return np.mean([means[labels == k].std(axis=0).mean() for k in range(10)])

    easy, default, hard = spread(0.0), spread(cifar10_data.DIFFICULTY), spread(2.0)
    assert easy < 5, f"expected the easy set's colours within a class to agree, spread {easy:.1f}"
    assert 5 * easy < default < hard, (easy, default, hard)
    for bad in (-0.5, float("nan"), float("inf"), True, "1"):
        with pytest.raises(ValueError, match=r"^difficulty must be a finite number >= 0, got "):
            cifar10_data.write_cifar10(Path("/nonexistent/never"), 10, 5, difficulty=bad)


def test_difficulty_turns_each_grating_about_its_class_angle():
    """Each image's orientation, read from the peak of its 2-D Fourier spectrum: at
    difficulty 0 every image of a class has the class's angle; at 1 they stray about it
    with a spread near the pi/8 (22.5 degrees) sd of the draw, centred on it."""
    labels = np.repeat(np.arange(10), 40)
    ky, kx = np.meshgrid(np.fft.fftfreq(32), np.fft.fftfreq(32), indexing="ij")

    def orientations(difficulty):
        images = cifar10_data.make_images(labels, np.random.default_rng(0), difficulty)
        gray = images.astype(np.float64).mean(axis=1)
        gray -= gray.mean(axis=(1, 2), keepdims=True)
        spectrum = np.abs(np.fft.fft2(gray))
        peaks = [np.unravel_index(np.argmax(f), f.shape) for f in spectrum]
        return np.array([np.arctan2(ky[i], kx[i]) % np.pi for i in peaks])

    def spread_and_offset(angles, k):  # circular statistics of period pi, in degrees
        mean = np.exp(2j * angles[labels == k]).mean()
        spread = np.degrees(np.sqrt(max(0.0, -np.log(abs(mean)))) / 2)
        offset = (np.angle(mean) / 2 - cifar10_data._ANGLES[k] + np.pi / 2) % np.pi - np.pi / 2
        return spread, abs(np.degrees(offset))

    easy, hard = orientations(0.0), orientations(1.0)
    for k in range(10):
        spread, _ = spread_and_offset(easy, k)
        assert spread < 3, f"class {k} at difficulty 0: its gratings spread {spread:.1f} degrees"
        spread, offset = spread_and_offset(hard, k)
        # 14-20 degrees measured: the spectrum's bins (about 14 degrees apart at this
        # frequency) round each angle, so the measured spread is below the drawn 22.5
        assert 8 < spread < 35, f"class {k} at difficulty 1: spread {spread:.1f} degrees"
        assert offset < 10, f"class {k} at difficulty 1: centred {offset:.1f} degrees off"


#: sha256 of make_images(labels 0..9 twice, default_rng(0), difficulty) — recorded once,
#: 2026-12-02, and the same on NumPy 1.26.4 and 2.4.6. The calibration in the module's
#: docstring was measured on exactly these draws: a change to the generator changes the
#: data its figures describe, and the calibration must be measured again.
IMAGES_SHA256 = {
    0.0: "b0b56e04a24db928dcaabd29e1434dec089a8fda47eabb91469eaff31261ed3b",
    1.0: "f1a2e47fd422fb59df493624f4f57c897e8f2efe817cd12b14ca10ded9615dfd",
}


@pytest.mark.parametrize("difficulty", sorted(IMAGES_SHA256))
def test_the_images_are_the_ones_the_calibration_was_measured_on(difficulty):
    """The easy set (the fast tests' and goldens') and the calibrated default, byte for byte."""
    import hashlib

    images = cifar10_data.make_images(np.arange(10).repeat(2), np.random.default_rng(0),
                                      difficulty)  # fmt: skip
    assert hashlib.sha256(images.tobytes()).hexdigest() == IMAGES_SHA256[difficulty], (
        f"the generator's difficulty-{difficulty:g} images changed: measure the calibration "
        "again (reference/cifar10_data.py's docstring) before recording the new fingerprint"
    )
    assert cifar10_data.DIFFICULTY == 1.0  # the default the fingerprint and figures are of


def test_the_writer_takes_the_smallest_sizes_and_defaults_to_the_real_sets():
    """5 training images (one per batch file) and 1 test image are the least it writes; its
    defaults are the real set's 50,000 and 10,000, seed 0, the calibrated difficulty."""
    import inspect

    parameters = inspect.signature(cifar10_data.write_cifar10).parameters
    defaults = {k: v.default for k, v in parameters.items() if v.default is not v.empty}
    assert defaults == {"n_train": 50000, "n_test": 10000, "seed": 0,
                        "difficulty": cifar10_data.DIFFICULTY}  # fmt: skip
    assert cifar10_data.build_parser().parse_args(["r"]).seed == 0


def test_called_with_its_defaults_the_writer_writes_the_real_sizes_from_seed_0(
    tmp_path, monkeypatch
):
    """What the defaults write, not only what the signature says: 10,000 images in each of
    the five training batches, 10,000 in the test batch, the labels seed 0 draws. The
    images and the pickling are stubbed (60,000 real images would take a while): what is
    recorded is what each file would hold."""
    written = {}

    def dump(entry, f, protocol=None):
        if "labels" in entry:
            written[Path(f.name).name] = entry["labels"]

    monkeypatch.setattr(cifar10_data, "make_images",
                        lambda labels, rng, difficulty: np.zeros((len(labels), 3, 32, 32),
                                                                 np.uint8))  # fmt: skip
    monkeypatch.setattr(cifar10_data.pickle, "dump", dump)
    folder = cifar10_data.write_cifar10(tmp_path)
    assert {name: len(labels) for name, labels in written.items()} == {
        **{f"data_batch_{i}": 10_000 for i in range(1, 6)}, "test_batch": 10_000
    }  # fmt: skip
    first = np.random.default_rng(0).integers(0, 10, size=10_000)
    assert written["data_batch_1"] == first.tolist(), "the default seed is not 0"
    assert cifar10_data.read_manifest(folder.parent)["seed"] == 0


def test_the_smallest_set_is_written_and_one_smaller_refused_by_name(tmp_path):
    folder = cifar10_data.write_cifar10(tmp_path / "least", 5, 1)
    assert (cifar10_data.read_manifest(folder.parent)["n_train"], len(list(folder.iterdir()))) == (
        5,
        8,
    )
    with pytest.raises(ValueError, match=r"^n_train must be an integer >= 5, got 4$"):
        cifar10_data.write_cifar10(tmp_path / "a", 4, 1)
    with pytest.raises(ValueError, match=r"^n_test must be an integer >= 1, got 0$"):
        cifar10_data.write_cifar10(tmp_path / "b", 5, 0)


def test_the_set_is_assembled_on_its_own_filesystem(tmp_path):
    """The temporary folder is made inside ``root``, so the final move is a rename on one
    filesystem: here ``root`` is a small tmpfs of its own (root only; skipped elsewhere)."""
    from spec.helpers.faults import small_disk

    with small_disk(tmp_path / "disk", size="8m") as disk:
        folder = cifar10_data.write_cifar10(disk / "data", 10, 5)
        assert sorted(p.name for p in (disk / "data").iterdir()) == ["cifar-10-batches-py"]
        assert cifar10_data.read_manifest(folder.parent)["n_train"] == 10


@pytest.mark.network
def test_the_real_cifar10_loads_through_the_same_code(tmp_path_factory):
    """With the real data set (CIFAR10_ROOT, or a download), the loader yields 50,000/10,000."""
    root = os.environ.get(cifar10_data.REAL_DATA_ENV)
    if root is None:
        root = tmp_path_factory.mktemp("real-cifar")
        torchvision.datasets.CIFAR10(root, train=True, download=True)
    trainset = cifar10_data.load_cifar10(root, train=True)
    testset = cifar10_data.load_cifar10(root, train=False)
    assert type(trainset) is torchvision.datasets.CIFAR10  # the plain class, real MD5s
    assert (len(trainset), len(testset)) == (50_000, 10_000)


def test_the_command_line_writes_the_sizes_and_seed_it_is_given(tmp_path, capsys):
    """``python -m reference.cifar10_data ROOT --train N --test M --seed S`` writes that set."""
    root = tmp_path / "root"
    argv = [str(root), "--train", "10", "--test", "5", "--seed", "3", "--difficulty", "0.5"]
    assert cifar10_data.main(argv) == 0
    manifest = cifar10_data.read_manifest(root)
    assert (manifest["n_train"], manifest["n_test"], manifest["seed"]) == (10, 5, 3)
    assert manifest["difficulty"] == 0.5
    assert (
        capsys.readouterr().out
        == f"wrote {root / 'cifar-10-batches-py'} (10 train, 5 test images, difficulty 0.5)\n"
    )
    other = tmp_path / "other"
    cifar10_data.write_cifar10(other, 10, 5, seed=3, difficulty=0.5)
    for name in manifest["md5"]:  # the same bytes as the function writes from that seed
        same = (root / "cifar-10-batches-py" / name).read_bytes()
        assert same == (other / "cifar-10-batches-py" / name).read_bytes(), name


def test_the_command_line_defaults_and_help_say_what_it_writes(capsys):
    """Its help names each flag and its default: the real set's 50,000 and 10,000, seed 0,
    the calibrated difficulty."""
    with pytest.raises(SystemExit) as done:
        cifar10_data.main(["--help"])
    assert done.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert text.endswith(
        "root Write a learnable CIFAR-10-format data set (offline). positional arguments: root "
        "directory to create cifar-10-batches-py/ in options: -h, --help show this help message "
        "and exit --train TRAIN training images (default: 50000) --test TEST test images "
        "(default: 10000) --seed SEED the generator's seed (default: 0) --difficulty DIFFICULTY "
        "how far images stray from their class (0: the easy set) (default: "
        f"{cifar10_data.DIFFICULTY})"
    ), text
    args = cifar10_data.build_parser().parse_args(["root"])
    assert (args.root, args.train, args.test, args.seed) == ("root", 50000, 10000, 0)
    assert args.difficulty == cifar10_data.DIFFICULTY
    assert isinstance(cifar10_data.build_parser().parse_args(["r", "--train", "7"]).train, int)
