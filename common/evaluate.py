"""``python -m common.evaluate --model RUN/model.keras --data X --out DIR``:
accuracy, the WSOL metrics where the data has boxes or masks, and per map
source (``--maps``) the explanation metrics of any saved single-input
classifier, into ``DIR/metrics.json``, with pictures of the first images
(image, maps, deletion and insertion curves).

Explanation metrics explain the predicted class: deletion AUC (zero
baseline, lower is better), insertion AUC (blurred baseline, higher is
better), average drop (%, lower) and increase in confidence (%, higher).
Where every image has boxes or masks, the maps of the true class give the
pointing game and energy-based pointing game (%, higher) and the WSOL
protocol's GT-known Loc, Top-1 Loc, MaxBoxAccV2 (and PxAP with masks).

--data is a CSV, a class-per-folder tree, FORMAT:PATH or demo:NAME; its
``--split`` rows are scored (test by default: a table without a split
column is split as the trainer split it, with the run's seed).
"""

import json
import os
import sys

from common.commandline.model_command import ModelCommand
from common.errors import named_by

MAPS = ("gradcam", "gradcampp", "layercam", "xgradcam", "scorecam", "cam")


def parse_maps(text, offered=MAPS):
    """``"gradcam,cam"`` -> ("gradcam", "cam"); ValueError names a bad one."""
    names = tuple(dict.fromkeys(n.strip() for n in str(text).split(",") if n.strip()))
    bad = [n for n in names if n not in offered]
    if bad or not names:
        raise ValueError(f"--maps: expected a comma-separated list of {list(offered)} (the "
                         f"sources this model offers), got {text!r}")
    return names


def run_seed(model_path):
    """The seed of the run that saved the model (its config.yaml), else 0."""
    from common.io import read_yaml
    config = os.path.join(os.path.dirname(os.path.abspath(model_path)), "config.yaml")
    seed = read_yaml(config).get("seed") if os.path.isfile(config) else None
    return int(seed) if seed is not None else 0


CLAIM = "README.txt"  # created exclusively: the evaluation that creates it owns --out


def claim_output(out, overwrite=False, claim=True):
    """Makes ``out`` this evaluation's, as the trainers claim their run
    folder: a folder holding files already is refused unless ``overwrite``,
    and of two evaluations started into one folder the second stops."""
    taken = ValueError(f"--out: '{out}' holds files already (another evaluation?); pass "
                       "--overwrite to replace them or choose another folder")
    if os.path.isdir(out) and os.listdir(out) and not overwrite:
        raise taken
    if not claim:
        return
    os.makedirs(out, exist_ok=True)
    claim = os.path.join(out, CLAIM)
    if overwrite and os.path.isfile(claim):
        os.remove(claim)
    try:
        with os.fdopen(os.open(claim, os.O_CREAT | os.O_EXCL | os.O_WRONLY), "w") as handle:
            handle.write("Written by attention-evaluate: metrics.json (written last, when the "
                         "evaluation finished) and pictures of the first images.\n")
    except FileExistsError:
        raise taken from None


def ignore_masks(data, column, table):
    """The mask file of each of ``table``'s rows from CSV ``data``'s
    ``column`` (paths relative to the CSV); every row needs one."""
    import pandas as pd

    from common.data.tables import DataError
    if not str(data).lower().endswith(".csv"):
        raise DataError(f"--ignore: '{data}' is not a CSV file; the masks are a CSV column")
    frame = pd.read_csv(data, dtype=str)
    if column not in frame:
        raise DataError(f"--ignore: '{data}' has no column {column!r}")
    base = os.path.dirname(os.path.abspath(data))
    masks = {os.path.normpath(os.path.join(base, path)): os.path.normpath(
        os.path.join(base, mask)) for path, mask in zip(frame["path"], frame[column])
        if isinstance(mask, str) and mask.strip()}
    missing = [path for path in table["path"] if path not in masks]
    if missing:
        raise DataError(f"--ignore: {len(missing)} of the {len(table)} evaluated images have "
                        f"no mask in column {column!r} (e.g. '{missing[0]}')")
    return [masks[path] for path in table["path"]]


def read_split(data, split, seed):
    """(table, description) of the rows of ``split`` of ``data``."""
    from common.data.demo import demo_source
    from common.data.formats import read_data
    from common.data.tables import DataError, is_multi_label, split_table
    with named_by("--data", "data"):
        table, _ = read_data(demo_source(data))
    if is_multi_label(table):
        raise DataError(f"--data: '{data}' has images with several labels; attention-evaluate "
                        "scores single-label classifiers")
    if split == "all":
        return table, "all"
    has_column = "split" in table and table["split"].ne("").all()
    parts = dict(zip(("train", "val", "test"), split_table(table, seed=seed)))
    if not len(parts[split]):
        raise DataError(f"--data: '{data}' has no rows of split '{split}'")
    return parts[split], split if has_column else f"{split} (seeded split, seed {seed})"


class Evaluate(ModelCommand):
    script, module = "attention-evaluate", "common.evaluate"
    description = __doc__
    classes_required = True
    takes_images = False

    def add_arguments(self, parser):
        parser.add_argument("--data", required=True,
                            help="CSV, class folders, FORMAT:PATH or demo:NAME")
        parser.add_argument("--out", required=True, help="folder for metrics.json and pictures")
        parser.add_argument("--maps", default="gradcam",
                            help=f"map sources, comma-separated, of {', '.join(MAPS)} "
                                 "(cam: a GAP -> Dense or 1x1 conv CAM head, or FAM's class "
                                 "maps); a model with inputs besides the image offers those "
                                 "that fit it and its own (regions: AG-Net's region weights)")
        parser.add_argument("--split", choices=("test", "val", "train", "all"), default="test",
                            help="the rows to evaluate")
        parser.add_argument("--batch-size", type=int, default=32, help="images per batch")
        parser.add_argument("--steps", type=int, default=100,
                            help="steps of the deletion and insertion curves")
        parser.add_argument("--chunk-size", type=int, default=128,
                            help="most perturbed images per forward pass")
        parser.add_argument("--pictures", type=int, default=8, help="images to draw")
        parser.add_argument("--ignore", metavar="COLUMN",
                            help="a CSV column naming a mask image per row (white: where the "
                                 "model must not look): also report how many predictions "
                                 "change when that region comes from another image")

    def check(self, args, classes):
        from common.data.tables import DataError, format_listing
        from common.data.validation import validate
        from common.model_inputs import maker_of_file, map_names, run_settings
        with named_by("--model", "path"):  # refused here, before TensorFlow loads
            self.maker = maker_of_file(args.model)
        self.settings = run_settings(args.model) if self.maker else {}
        args.map_names = parse_maps(args.maps, map_names(self.maker, MAPS))
        for flag in ("batch_size", "steps", "chunk_size"):
            if getattr(args, flag) < 1:
                raise ValueError(f"--{flag.replace('_', '-')}: expected a positive integer, "
                                 f"got {getattr(args, flag)}")
        if args.pictures < 0:
            raise ValueError(f"--pictures: expected 0 or more, got {args.pictures}")
        table, self.split = read_split(args.data, args.split, run_seed(args.model))
        unknown = sorted({label for labels in table["labels"] for label in labels}
                         - set(classes))
        if unknown:
            raise DataError(f"--data: '{args.data}' has labels {format_listing(unknown)} that "
                            f"are not among the model's classes {format_listing(classes)} "
                            "(its classes.json)")
        if args.ignore:
            table = table.assign(ignore=ignore_masks(args.data, args.ignore, table))
        self.table = validate(table.reset_index(drop=True), classes, what="evaluation")
        self.classes = classes
        claim_output(args.out, args.overwrite, claim=False)  # said before the model loads

    def check_model(self, args, model):
        from common.model_inputs import ImageClassifier
        classes = self.classes
        try:
            self.classifier = ImageClassifier(model, self.maker, self.settings)
        except ValueError as error:
            raise ValueError(f"--model: '{args.model}': {error}; attention-evaluate handles "
                             "image classifiers") from None
        if self.classifier.num_classes != len(classes):
            raise ValueError(f"--model: '{args.model}' has {self.classifier.num_classes} "
                             f"outputs but its classes.json names {len(classes)} classes")
        for name in args.map_names:
            try:
                self.classifier.map_source(name)
            except (ValueError, TypeError) as error:
                raise ValueError(f"--maps {name}: {error}") from None

    def run(self, args, model, classes):
        from common.training.disk import is_disk_full
        try:
            claim_output(args.out, args.overwrite)
            return self._evaluate(args, model, classes)
        except OSError as error:
            if not is_disk_full(error):
                raise
            from common.errors import printable, summary
            where = f" writing '{error.filename}'" if getattr(error, "filename", None) else ""
            print(f"{self.prog}: error: {printable(summary(error))}{where}; '{args.out}' has no "
                  "metrics.json (its pictures of this run were removed)", file=sys.stderr)
            sys.exit(1)

    def _evaluate(self, args, model, classes):
        return evaluate(self.classifier, self.table, classes, args.out, args.map_names,
                        args.steps, args.batch_size, args.pictures, args.verbose,
                        args.chunk_size,
                        about={"model": os.path.abspath(args.model), "data": args.data,
                               "split": self.split}, check_ignore=bool(args.ignore))


def evaluate(model, table, classes, out, maps=("gradcam",), steps=100, batch_size=32,
             pictures=8, verbose=1, chunk_size=128, about=None, check_ignore=False):
    """Writes ``out/metrics.json`` and the pictures of the first ``pictures``
    images; returns the metrics."""
    from common.evaluation import TOLERANCE, evaluate_classifier
    from common.evaluation_pictures import draw
    from common.io import atomic_write, write_json
    result, kept = evaluate_classifier(model, table, classes, maps, steps, batch_size,
                                       pictures, verbose, chunk_size=chunk_size,
                                       check_ignore=check_ignore)
    result = {**(about or {}), **result, "settings": {
        "maps": list(maps), "steps": steps, "deletion_baseline": "zero",
        "insertion_baseline": "blur (11 px, sigma 5)", "explained_class": "predicted",
        "localised_class": "true", "pointing_tolerance_px": TOLERANCE,
        "box_threshold": 0.5}}
    if getattr(model, "other", None):  # an ImageClassifier whose model takes more inputs
        result["settings"]["other_inputs"] = (
            f"{', '.join(model.other)}: computed from each image file as the model's trainer "
            "computed them; the perturbed copies of an image keep its own")
    os.makedirs(out, exist_ok=True)
    written = []
    try:  # the pictures first: metrics.json, written last, says the evaluation finished
        for i, picture in enumerate(kept):
            name = os.path.splitext(os.path.basename(table["path"].iloc[i]))[0]
            written.append(os.path.join(out, f"{i:03d}_{name}.png"))
            atomic_write(written[-1], lambda tmp: draw(tmp, picture, classes, steps))
        write_json(os.path.join(out, "metrics.json"), result)
    except OSError:
        for path in written:  # no half set of pictures beside no metrics.json
            if os.path.exists(path):
                os.remove(path)
        raise
    print(summary(result))
    return result


def summary(result):
    """A few lines: accuracy, then one line per map source."""
    lines = [f"accuracy {result['accuracy']:.4f} on {result['images']} images"]
    for name, values in result["maps"].items():
        shown = {k: v for k, v in values.items() if not isinstance(v, (list, dict))}
        lines.append(f"{name}: " + json.dumps({k: round(v, 4) for k, v in shown.items()}))
    if "reliance" in result:
        check = result["reliance"]
        shares = ", ".join(f"{name} {share:.1f} %" for name, share in
                           check.get("map_share_inside_pct", {}).items())
        lines.append(f"ignore regions swapped for another image's: {check['changed_pct']:.1f} % "
                     f"of predictions change, accuracy {check['accuracy']:.4f} -> "
                     f"{check['swapped_accuracy']:.4f}; maps' mass inside them: {shares}")
    return "\n".join(lines)


def main(argv=None):
    return Evaluate().main(argv)


if __name__ == "__main__":
    main()
