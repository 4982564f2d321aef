"""--data FORMAT:PATH: every benchmark reader on a tiny fixture in the
dataset's own layout, row by row, and one malformed file per format."""

import os

import pytest

from common.data import formats
from common.data.tables import DataError
from common.training.cli import FORMATS
from tests.common import benchmark_fixtures as fixtures

NAMES = ("cub", "cars", "aircraft", "food101", "caltech256", "statefarm", "stanford40",
         "ppmi", "imagenet", "voc2007", "auc")


def _read(name, root):
    if name == "wsol":
        root, expected = fixtures.make_wsol(root)
    else:
        expected = getattr(fixtures, f"make_{name}")(root)
    table, classes = formats.read_data(f"{name}:{root}")
    return table, classes, {os.path.normpath(os.path.join(root, k)): v
                            for k, v in expected.items()}


def test_the_cli_lists_every_format():
    assert tuple(formats.formats()) == FORMATS


@pytest.mark.parametrize("name", NAMES + ("wsol",))
def test_reader_gives_the_rows_of_the_annotation_files(name, tmp_path):
    table, classes, expected = _read(name, str(tmp_path / name))
    assert sorted(table["path"]) == sorted(expected), name
    for row in table.itertuples():
        labels, split, boxes = expected[row.path]
        assert row.labels == labels and tuple(row.boxes) == boxes, (row.path, row)
        if split == "train*":  # the official training split, part of it carved into val
            assert row.split in ("train", "val")
        elif split != "any":
            assert row.split == split
        assert os.path.isfile(row.path)
    assert classes == sorted({label for v in expected.values() for label in v[0]})
    assert set(table["split"]) <= {"train", "val", "test"} and (table["split"] == "train").any()


def test_auc_v2_reads_both_cameras_or_one(tmp_path):
    root = str(tmp_path / "v2")
    expected = fixtures.make_auc_v2(root)
    table, classes = formats.read_data(f"auc:{root}")
    assert sorted(table["path"]) == sorted(os.path.join(root, k) for k in expected)
    assert classes == ["c0", "c1"]
    for row in table.itertuples():
        split = expected[os.path.relpath(row.path, root)][1]
        assert row.split in (("train", "val") if split == "train*" else ("test",))
        assert row.labels == expected[os.path.relpath(row.path, root)][0]
    one, _ = formats.read_data(f"auc:{os.path.join(root, 'Camera 2')}")
    assert sorted(one["path"]) == sorted(p for p in table["path"] if "Camera 2" in p)


def test_auc_errors_name_what_is_missing(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="Camera 1"):
        formats.read_data(f"auc:{tmp_path / 'empty'}")
    fixtures.make_auc(str(tmp_path / "v1"))
    os.remove(tmp_path / "v1" / "Train_data_list.csv")
    with pytest.raises(DataError, match="Train_data_list.csv"):
        formats.read_data(f"auc:{tmp_path / 'v1'}")


def test_carved_validation_split_is_seeded_and_stratified(tmp_path):
    table, _, _ = _read("caltech256", str(tmp_path / "c"))
    per_class = table[table["split"] != "test"].groupby(table["labels"].str[0])
    assert per_class.size().tolist() == [60, 60]  # the protocol's 60 training images
    assert (table["split"] == "val").groupby(table["labels"].str[0]).sum().tolist() == [6, 6]
    again, _ = formats.read_data(f"caltech256:{tmp_path / 'c'}")
    assert again["split"].tolist() == table["split"].tolist()


def test_statefarm_splits_share_no_driver(tmp_path):
    table, _, _ = _read("statefarm", str(tmp_path / "s"))
    drivers = {s: set(table.loc[table["split"] == s, "driver"]) for s in ("train", "val",
                                                                          "test")}
    assert all(drivers.values())
    assert not (drivers["train"] & drivers["val"] or drivers["train"] & drivers["test"]
                or drivers["val"] & drivers["test"])
    assert sum(map(len, drivers.values())) == 10


def test_voc_difficult_objects_are_not_labels(tmp_path):
    table, _, _ = _read("voc2007", str(tmp_path / "v"))
    row = table[table["path"].str.endswith("000005.jpg")].iloc[0]
    assert row.labels == ("chair",) and row.difficult == ("dog",)
    assert not table["path"].str.endswith("000099.jpg").any()  # only a difficult object


MALFORMED = {  # format -> (file to break, its new text, words the error must contain)
    "cub": ("bounding_boxes.txt", "1 2 3 4\n", "bounding_boxes.txt, line 1"),
    "cars": ("devkit/cars_meta.mat", "not a mat file", "cars_meta.mat"),
    "aircraft": ("data/images_box.txt", "1000000 3 4 x 20\n", "images_box.txt, line 1"),
    "food101": ("meta/train.txt", "pizza/1\n", "train.txt, line 1"),
    "caltech256": (None, None, "no class folders"),
    "statefarm": ("driver_imgs_list.csv", "driver,class,img\n", "driver_imgs_list.csv, line 1"),
    "stanford40": ("XMLAnnotations/applauding_001.xml", "<annotation><object>",
                   "applauding_001.xml"),
    "ppmi": ("norm_image/with_instrument", None, "with_instrument"),
    "imagenet": ("LOC_val_solution.csv", "ImageId,PredictionString\nx,n01 1 2\n",
                 "LOC_val_solution.csv, line 2"),
    "voc2007": ("ImageSets/Main/dog_val.txt", "000009 2\n", "dog_val.txt, line 1"),
    "wsol": ("test/localization.txt", "x,1,2,y\n", "localization.txt, line 1"),
    "auc": ("Train_data_list.csv", "Image,ClassID\nc0/0_face0.jpg,11\n",
            "Train_data_list.csv, line 2"),
}


@pytest.mark.parametrize("name", NAMES + ("wsol",))
def test_malformed_annotation_is_a_one_line_error_naming_the_file(name, tmp_path):
    import shutil
    root = str(tmp_path / name)
    if name == "wsol":
        root, _ = fixtures.make_wsol(root)
    else:
        getattr(fixtures, f"make_{name}")(root)
    target, text, words = MALFORMED[name]
    if name == "caltech256":
        for folder in os.listdir(root):
            shutil.rmtree(os.path.join(root, folder))
    elif text is None:
        shutil.rmtree(os.path.join(root, target))
    else:
        with open(os.path.join(root, target), "w") as handle:
            handle.write(text)
    with pytest.raises(DataError) as error:
        formats.read_data(f"{name}:{root}")
    assert words in str(error.value) and "\n" not in str(error.value), str(error.value)


def test_unknown_or_missing_dataset_folder(tmp_path):
    with pytest.raises(DataError, match="is not a folder"):
        formats.read_data(f"cub:{tmp_path / 'nothing'}")
    assert not formats.is_format_spec("C:/images.csv")  # not a format: a path
