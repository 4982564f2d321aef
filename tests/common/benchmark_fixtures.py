"""Tiny benchmarks in each paper dataset's own file layout: a few generated
images and the real annotation formats (boxes, VOC's difficult flags).
Each ``make_<format>(root)`` returns the rows the reader must give, as
{relative image path: (labels, split or "train*" for train-or-val, boxes)}."""

import os

import cv2
import numpy as np


def _image(path, seed, size=(30, 40)):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    rng = np.random.default_rng(seed)
    cv2.imwrite(str(path), rng.integers(0, 255, (*size, 3), np.uint8))


def _write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(text)


def make_cub(root):
    classes = ["001.Albatross", "002.Auklet"]
    images, expected = [], {}
    for i in range(1, 9):
        c = (i - 1) % 2
        rel = f"{classes[c]}/img_{i}.jpg"
        _image(os.path.join(root, "images", rel), i)
        images.append((i, rel, c + 1, 1 if i <= 6 else 0, (2.0 + i, 3.0, 10.0, 12.5)))
        expected[os.path.join("images", rel)] = (
            (classes[c],), "train*" if i <= 6 else "test", ((2.0 + i, 3.0, 12.0 + i, 15.5),))
    _write(os.path.join(root, "classes.txt"), "".join(f"{k + 1} {n}\n"
                                                      for k, n in enumerate(classes)))
    _write(os.path.join(root, "images.txt"), "".join(f"{i} {r}\n" for i, r, *_ in images))
    _write(os.path.join(root, "image_class_labels.txt"),
           "".join(f"{i} {c}\n" for i, _, c, *_ in images))
    _write(os.path.join(root, "train_test_split.txt"),
           "".join(f"{i} {t}\n" for i, _, _, t, _ in images))
    _write(os.path.join(root, "bounding_boxes.txt"),
           "".join(f"{i} {b[0]} {b[1]} {b[2]} {b[3]}\n" for i, *_, b in images))
    return expected


def make_cars(root):
    import scipy.io
    names = np.array(["AM General Hummer SUV 2000", "Audi R8 Coupe 2012"], dtype=object)
    os.makedirs(os.path.join(root, "devkit"), exist_ok=True)
    scipy.io.savemat(os.path.join(root, "devkit", "cars_meta.mat"), {"class_names": names})
    expected = {}
    fields = [("bbox_x1", "O"), ("bbox_y1", "O"), ("bbox_x2", "O"), ("bbox_y2", "O"),
              ("class", "O"), ("fname", "O")]
    for split, path, folder, count in (
            ("train*", os.path.join(root, "devkit", "cars_train_annos.mat"), "cars_train", 6),
            ("test", os.path.join(root, "cars_test_annos_withlabels.mat"), "cars_test", 2)):
        records = np.zeros(count, dtype=fields)
        for k in range(count):
            name = f"{k + 1:05d}.jpg"
            _image(os.path.join(root, folder, name), k + 100 * count)
            records[k] = (5 + k, 6, 20, 25, k % 2 + 1, name)
            expected[os.path.join(folder, name)] = ((str(names[k % 2]),), split,
                                                    ((4.0 + k, 5.0, 20.0, 25.0),))
        scipy.io.savemat(path, {"annotations": records})
    return expected


def make_aircraft(root):
    data = os.path.join(root, "data")
    variants = ["707-320", "A300B4"]
    lines = {"train": [], "val": [], "test": []}
    expected, boxes = {}, []
    for k in range(9):
        image_id = f"{1000000 + k}"
        split = ("train", "val", "test")[k % 3]
        variant = variants[(k // 3) % 2]
        _image(os.path.join(data, "images", image_id + ".jpg"), k)
        lines[split].append(f"{image_id} {variant}\n")
        boxes.append(f"{image_id} {3 + k} 4 30 20\n")
        expected[os.path.join("data", "images", image_id + ".jpg")] = (
            (variant,), split, ((2.0 + k, 3.0, 30.0, 20.0),))
    for split, text in lines.items():
        _write(os.path.join(data, f"images_variant_{split}.txt"), "".join(text))
    _write(os.path.join(data, "images_box.txt"), "".join(boxes))
    _write(os.path.join(data, "variants.txt"), "\n".join(variants) + "\n")
    return expected


def make_food101(root):
    classes = ["apple_pie", "baby_back_ribs"]
    expected, lists = {}, {"train": [], "test": []}
    for k in range(8):
        name = classes[k % 2]
        entry = f"{name}/{1000 + k}"
        split = "train" if k < 6 else "test"
        _image(os.path.join(root, "images", entry + ".jpg"), k)
        lists[split].append(entry + "\n")
        expected[os.path.join("images", entry + ".jpg")] = (
            (name,), "train*" if split == "train" else "test", ())
    _write(os.path.join(root, "meta", "classes.txt"), "\n".join(classes) + "\n")
    for split, entries in lists.items():
        _write(os.path.join(root, "meta", f"{split}.txt"), "".join(entries))
    return expected


def make_caltech256(root, per_class=64):
    expected = {}
    for folder in ("001.ak47", "002.american-flag", "257.clutter"):
        for k in range(per_class if folder != "257.clutter" else 2):
            rel = os.path.join(folder, f"{folder[:3]}_{k + 1:04d}.jpg")
            _image(os.path.join(root, rel), k, size=(8, 8))
            if folder != "257.clutter":
                expected[rel] = ((folder,), "any", ())
    return expected


def make_statefarm(root, drivers=10):
    rows, expected = ["subject,classname,img"], {}
    for d in range(drivers):
        for c in ("c0", "c1"):
            name = f"img_{d}_{c}.jpg"
            _image(os.path.join(root, "imgs", "train", c, name), d)
            rows.append(f"p{d:03d},{c},{name}")
            expected[os.path.join("imgs", "train", c, name)] = ((c,), "any", ())
    _write(os.path.join(root, "driver_imgs_list.csv"), "\n".join(rows) + "\n")
    return expected


def _voc_xml(path, objects):
    body = "".join(f"<object><name>{n}</name><difficult>0</difficult><bndbox><xmin>{b[0]}"
                   f"</xmin><ymin>{b[1]}</ymin><xmax>{b[2]}</xmax><ymax>{b[3]}</ymax>"
                   f"</bndbox></object>" for n, b in objects)
    _write(path, f"<annotation><size><width>40</width><height>30</height></size>{body}"
                 "</annotation>")


def make_stanford40(root):
    expected = {}
    for action in ("applauding", "riding_a_bike"):
        for split, ids in (("train", range(1, 5)), ("test", range(5, 7))):
            names = [f"{action}_{k:03d}.jpg" for k in ids]
            _write(os.path.join(root, "ImageSplits", f"{action}_{split}.txt"),
                   "\n".join(names) + "\n")
            for k, name in zip(ids, names):
                _image(os.path.join(root, "JPEGImages", name), k)
                _voc_xml(os.path.join(root, "XMLAnnotations", name[:-4] + ".xml"),
                         [("person", (2 + k, 3, 30, 25))])
                expected[os.path.join("JPEGImages", name)] = (
                    (action,), "train*" if split == "train" else "test",
                    ((2.0 + k, 3.0, 30.0, 25.0),))
    return expected


def make_ppmi(root):
    expected = {}
    for group in ("play_instrument", "with_instrument"):
        for instrument in ("flute", "violin"):
            for split, count in (("train", 4), ("test", 1)):
                for k in range(count):
                    rel = os.path.join("norm_image", group, instrument, split, f"{k}.jpg")
                    _image(os.path.join(root, rel), k)
                    expected[rel] = ((f"{group}/{instrument}",),
                                     "train*" if split == "train" else "test", ())
    return expected


def make_imagenet(root):
    expected, solution = {}, ["ImageId,PredictionString"]
    for c, wnid in enumerate(("n01440764", "n01443537")):
        for k in range(12):
            rel = os.path.join("train", wnid, f"{wnid}_{k}.JPEG")
            _image(os.path.join(root, rel), k)
            expected[rel] = ((wnid,), "train*", ())
        image_id = f"ILSVRC2012_val_0000000{c + 1}"
        _image(os.path.join(root, "val", image_id + ".JPEG"), 50 + c)
        solution.append(f"{image_id},{wnid} 1 2 20 25 {wnid} 5 5 9 9 ")
        expected[os.path.join("val", image_id + ".JPEG")] = (
            (wnid,), "test", ((1.0, 2.0, 20.0, 25.0), (5.0, 5.0, 9.0, 9.0)))
    _write(os.path.join(root, "LOC_val_solution.csv"), "\n".join(solution) + "\n")
    return expected


def make_voc2007(root):
    from common.data.formats_annotated import VOC_CLASSES
    images = {"000005": ("train", {"chair": "1", "dog": "0"}),
              "000007": ("train", {"car": "1", "dog": "1", "person": "1"}),
              "000009": ("val", {"dog": "1", "car": "1"}),
              "000012": ("val", {"car": "1", "person": "1"}),
              "000001": ("test", {"dog": "1", "person": "1"}),
              "000004": ("test", {"chair": "1"}), "000099": ("test", {"cat": "0"})}
    expected = {}
    for split in ("train", "val", "test"):
        for name in VOC_CLASSES:
            lines = [f"{i} {flags.get(name, '-1'):>2}" for i, (s, flags) in images.items()
                     if s == split]
            _write(os.path.join(root, "ImageSets", "Main", f"{name}_{split}.txt"),
                   "\n".join(lines) + "\n")
    for k, (image_id, (split, flags)) in enumerate(images.items()):
        _image(os.path.join(root, "JPEGImages", image_id + ".jpg"), k)
        objects = [(n, (1 + k, 2, 20, 28)) for n in sorted(flags)]
        _voc_xml(os.path.join(root, "Annotations", image_id + ".xml"), objects)
        present = tuple(sorted(n for n, f in flags.items() if f == "1"))
        if present:
            expected[os.path.join("JPEGImages", image_id + ".jpg")] = (
                present, split, tuple((float(k), 1.0, 20.0, 28.0) for _ in objects))
    return expected


def make_wsol(root):
    """metadata/CUB/{train,val,test} beside dataset/CUB; returns the
    metadata folder and the expected rows."""
    meta = os.path.join(root, "metadata", "CUB")
    expected = {}
    for s, split in enumerate(("train", "val", "test")):
        ids = [f"00{c}.Bird/{split}_{k}.jpg" for c in (1, 2) for k in range(3 if s == 0 else 1)]
        for k, image_id in enumerate(ids):
            _image(os.path.join(root, "dataset", "CUB", image_id), k)
            expected[os.path.join("..", "..", "dataset", "CUB", image_id)] = (
                (image_id[2],), split, ((1.0, 2.0, 20.0, 25.0),))
        _write(os.path.join(meta, split, "image_ids.txt"), "\n".join(ids) + "\n")
        _write(os.path.join(meta, split, "class_labels.txt"),
               "\n".join(f"{i},{i[2]}" for i in ids) + "\n")
        _write(os.path.join(meta, split, "localization.txt"),
               "\n".join(f"{i},1,2,20,25" for i in ids) + "\n")
    return meta, expected


def make_auc(root):
    """AUC Distracted Driver V1: v1_cam1_no_split/c*/ and the two lists, one
    with the authors' absolute paths and class ids, one relative with names."""
    expected, lists = {}, {"train": ["Image,ClassID"], "test": ["img_path,class"]}
    for i in range(12):
        c, split = f"c{i % 2}", "train" if i < 8 else "test"
        rel = os.path.join("v1_cam1_no_split", c, f"{i}_face{i}.jpg")
        _image(os.path.join(root, rel), i)
        lists[split].append(f"/home/authors/AUC/{rel},{i % 2}" if split == "train"
                            else f"{c}/{i}_face{i}.jpg,{c}")
        expected[rel] = ((c,), "train*" if split == "train" else "test", ())
    _write(os.path.join(root, "Train_data_list.csv"), "\n".join(lists["train"]) + "\n")
    _write(os.path.join(root, "v1_cam1_no_split", "test_data_list.csv"),
           "\n".join(lists["test"]) + "\n")
    return expected


def make_auc_v2(root):
    """AUC Distracted Driver V2: Camera 1/ and Camera 2/, each train/ and test/."""
    expected = {}
    for camera in ("Camera 1", "Camera 2"):
        for split, count in (("train", 4), ("test", 2)):
            for i in range(count):
                c = f"c{i % 2}"
                rel = os.path.join(camera, split, c, f"{camera[-1]}_{split}_{i}.jpg")
                _image(os.path.join(root, rel), i)
                expected[rel] = ((c,), "train*" if split == "train" else "test", ())
    return expected
