"""Hostile or malformed data files a user supplies: mask sets (.npz object
arrays, .json of wrong shapes), YAML with Python tags, annotation XML with
entities, .mat files of unexpected structure, CSV and text files with huge
fields. Each is refused with one line naming the file; no code runs."""

import json
import os
import pickle

import numpy as np
import pytest

from common.data import formats
from common.data.formats_annotated import _xml_boxes
from common.data.tables import DataError, read_csv
from common.io import read_yaml
from common.training.cli import ConfigError
from fsa.masks import load_masks
from tests.common import benchmark_fixtures as fixtures


class Payload:
    """Unpickling it runs ``os.mkdir(marker)``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.mkdir, (self.marker,)


def _one_line(error, path, *words):
    message = str(error.value)
    assert str(path) in message and "\n" not in message, message
    for word in words:
        assert word in message, message


def test_npz_masks_holding_objects_are_refused_unpickled(tmp_path):
    path, marker = tmp_path / "masks.npz", tmp_path / "ran"
    np.savez(path, masks=np.array([Payload(marker)], dtype=object), counts=np.ones(1))
    with pytest.raises(ValueError) as error:
        load_masks(str(path), ["a"])
    _one_line(error, path)
    assert not marker.exists()
    pickle.loads(pickle.dumps(Payload(tmp_path / "proof")))  # the payload is real
    assert (tmp_path / "proof").exists()


@pytest.mark.parametrize("spec", [
    {"image_size": [-4, 8], "classes": {"a": {"centers": []}}},
    {"image_size": ["x", 8], "classes": {"a": {"centers": []}}},
    {"image_size": [100000, 100000], "classes": {"a": {"centers": []}}},
    {"image_size": [8, 8], "classes": {"a": {"centers": [[1, 2, 3]], "sigma": 1}}},
    {"image_size": [8, 8], "classes": {"a": {"centers": [[1, 2]], "sigma": 0}}},
    {"image_size": [8, 8], "classes": {"a": {"centers": [[1, 2]]}}},
    {"image_size": [8, 8], "classes": {"a": [[1, 2]]}},
    {"image_size": [8, 8], "classes": {"a": {"centers": 5, "sigma": 1}}}])
def test_json_masks_of_wrong_shapes_are_one_line(tmp_path, spec):
    path = tmp_path / "masks.json"
    path.write_text(json.dumps(spec))
    with pytest.raises(ValueError) as error:
        load_masks(str(path), ["a"])
    _one_line(error, path)


def test_yaml_with_python_tags_is_refused(tmp_path, capsys):
    from common.training.entry import main
    from fsa.train import COMMAND
    marker, path = tmp_path / "ran", tmp_path / "evil.yaml"
    path.write_text(f"epochs: !!python/object/apply:os.mkdir ['{marker}']\n")
    with pytest.raises(SystemExit) as stop:
        main(COMMAND, ["--config", str(path), "--output", str(tmp_path / "run")])
    lines = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and len(lines) == 1 and str(path) in lines[0], lines
    run = tmp_path / "resumed"
    run.mkdir()
    (run / "config.yaml").write_text(path.read_text())
    with pytest.raises(ValueError) as error:
        read_yaml(str(run / "config.yaml"))
    _one_line(error, run / "config.yaml")
    with pytest.raises(SystemExit) as stop:
        main(COMMAND, ["--resume", "--output", str(run)])
    lines = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and len(lines) == 1 and str(run) in lines[0], lines
    assert not marker.exists()


BOX = "<object><name>{}</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>5</xmax>" \
      "<ymax>5</ymax></bndbox></object>"
LAUGHS = "".join(f'<!ENTITY l{k} "{f"&l{k - 1};" * 10}">' for k in range(1, 10))
XML = {
    "billion laughs": f'<!DOCTYPE a [<!ENTITY l0 "lol">{LAUGHS}]><a>{BOX.format("&l9;")}</a>',
    "external entity": '<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/hostname">]>'
                       f'<a>{BOX.format("&x;")}</a>',
    "internal entity": f'<!DOCTYPE a [<!ENTITY x "dog">]><a>{BOX.format("&x;")}</a>'}


@pytest.mark.parametrize("kind", XML)
def test_annotation_xml_with_entities_is_refused(tmp_path, kind):
    path = tmp_path / "000001.xml"
    path.write_text(XML[kind])
    with pytest.raises(DataError) as error:
        _xml_boxes(str(path))
    _one_line(error, path)


def test_plain_annotation_xml_still_reads(tmp_path):
    path = tmp_path / "000001.xml"
    path.write_text(f"<a>{BOX.format('dog')}</a>")
    assert _xml_boxes(str(path), one_based=True) == [("dog", (0.0, 0.0, 5.0, 5.0))]


def _v73_mat(path):
    """The header of a MATLAB v7.3 (HDF5) file, which scipy cannot read."""
    path.write_bytes(b"MATLAB 7.3 MAT-file".ljust(116) + b"\0" * 8 + b"\x00\x02IM" + b"\0" * 64)


@pytest.mark.parametrize("change", ["names are a number", "annotations are a matrix",
                                    "annotations lack fields", "v7.3"])
def test_mat_files_of_unexpected_structure_are_one_line(tmp_path, change):
    import scipy.io
    root = tmp_path / "cars"
    fixtures.make_cars(str(root))
    meta, annos = root / "devkit" / "cars_meta.mat", root / "devkit" / "cars_train_annos.mat"
    target = {"names are a number": meta, "v7.3": meta}.get(change, annos)
    if change == "names are a number":
        scipy.io.savemat(meta, {"class_names": 5.0})
    elif change == "annotations are a matrix":
        scipy.io.savemat(annos, {"annotations": np.zeros((3, 3))})
    elif change == "annotations lack fields":
        scipy.io.savemat(annos, {"annotations": np.zeros(2, dtype=[("fname", "O")])})
    else:
        _v73_mat(meta)
    with pytest.raises(DataError) as error:
        formats.read_data(f"cars:{root}")
    _one_line(error, target)


def test_csv_with_a_huge_field_is_one_line(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("path,label\na.png,cat\n" + "b" * 200_000 + ".png,dog\n")
    with pytest.raises(DataError) as error:
        read_csv(str(path))
    _one_line(error, path, "line 3")


def test_annotation_text_with_a_huge_field_is_one_line(tmp_path):
    root = tmp_path / "cub"
    fixtures.make_cub(str(root))
    with open(root / "images.txt", "a") as handle:
        handle.write("99 " + "x" * 200_000 + ".jpg\n")
    with pytest.raises(DataError) as error:
        formats.read_data(f"cub:{root}")
    _one_line(error, root / "images.txt")

