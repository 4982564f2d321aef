"""Command line of every trainer: argparse + a YAML/JSON config file whose
values the flags override; defaults depend on the mode (demo without
``--data``, the paper's settings with it)."""

import argparse
import json
import os
import sys

import yaml

from common.distribute import STRATEGIES


FLIPS = ("none", "horizontal", "vertical", "horizontal_and_vertical")


class ConfigError(ValueError):
    """A bad flag or config value; the CLI prints it on one line, exit 2."""


class Parser(argparse.ArgumentParser):
    """argparse whose errors are one line on stderr and exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


# flag dest -> (type, help). Defaults come from the trainer's two tables.
COMMON_FLAGS = {
    "data": (str, "training data: a class-per-folder tree, a CSV (path,label[,split]"
                  "[,x0,y0,x1,y1]) or demo:<name>; without it the method's demo runs"),
    "val_data": (str, "separate validation data (folder or CSV)"),
    "output": (str, "run folder (default runs/<method>-<timestamp>)"),
    "epochs": (int, "number of epochs"),
    "batch_size": (int, "global batch size (split over the replicas)"),
    "image_size": (int, "square input size in pixels"),
    "backbone": (str, "backbone name (common.backbones.BACKBONES)"),
    "weights": (str, "backbone weights: none, imagenet or a local weights file"),
    "lr": (float, "learning rate"),
    "seed": (int, "random seed (data split, shuffling, initialisation)"),
    "strategy": (str, f"tf.distribute strategy, one of {', '.join(STRATEGIES)}"),
    "flip": (str, "random flip: none, horizontal, vertical or horizontal_and_vertical"),
    "rotation": (float, "random rotation, max degrees (+-)"),
    "translation": (float, "random translation, max fraction of the size (+-)"),
    "zoom": (float, "random zoom, max fraction (+-)"),
    "brightness": (str, "random brightness factor range 'low,high' (e.g. 0.5,1.5) or none"),
    "channel_shift": (float, "random intensity shift, max in 0-255 units (+-)"),
}
# The homogeneous negative CAM loss, for trainers whose model has CAMs.
HNC_FLAGS = {
    "hnc_weight": (float, "weight of the homogeneous negative CAM loss (0: off)", None),
    "hnc_k": (int, "negative classes per image in the HNC loss (default all)", None),
    "hnc_variant": (str, "HNC loss variant", ("mse", "kd")),
}
HNC_DEFAULTS = {"hnc_weight": 0.0, "hnc_k": None, "hnc_variant": "mse"}
SWITCHES = {
    "mixed_precision": "train with the mixed_float16 policy",
    "jit_compile": "compile the train step with XLA",
    "resume": "continue the interrupted run in --output from its last finished epoch",
    "skip_bad_images": "warn about bad images and train on the rest instead of stopping",
}
BASE_DEFAULTS = {"val_data": None, "output": None, "weights": None, "seed": 0,
                 "flip": "none", "rotation": 0.0, "translation": 0.0, "zoom": 0.0,
                 "brightness": "none", "channel_shift": 0.0,
                 "strategy": "auto", "mixed_precision": False, "jit_compile": False,
                 "resume": False, "skip_bad_images": False, "verbose": 1}


def _flag(dest):
    return "--" + dest.replace("_", "-")


def _describe(dest, demo, paper):
    d, p = demo.get(dest, BASE_DEFAULTS.get(dest)), paper.get(dest, BASE_DEFAULTS.get(dest))
    return f" (default: {d})" if d == p else f" (default: {d} in the demo, {p} with --data)"


def build_parser(prog, description, demo_defaults, paper_defaults, extra_flags=None):
    """A Parser with the common flags and the method's ``extra_flags``:
    dest -> (type or "switch", help, choices or None)."""
    parser = Parser(prog=prog, description=description)
    parser.add_argument("--config", help="YAML or JSON file of flag values (flags win)")
    for dest, (kind, text) in COMMON_FLAGS.items():
        choices = {"strategy": STRATEGIES, "flip": FLIPS}.get(dest)
        parser.add_argument(_flag(dest), dest=dest, type=kind, default=None, choices=choices,
                            help=text + _describe(dest, demo_defaults, paper_defaults))
    for dest, text in SWITCHES.items():
        parser.add_argument(_flag(dest), dest=dest, action="store_true", default=None,
                            help=text)
    parser.add_argument("--verbose", type=int, default=None, choices=(0, 1, 2),
                        help="Keras fit verbosity (default: 1, progress bars)")
    for dest, (kind, text, choices) in (extra_flags or {}).items():
        if kind == "switch":
            parser.add_argument(_flag(dest), dest=dest, action="store_true", default=None,
                                help=text)
        else:
            parser.add_argument(_flag(dest), dest=dest, type=kind, default=None,
                                choices=choices,
                                help=text + _describe(dest, demo_defaults, paper_defaults))
    return parser


def read_config_file(path, known):
    """Flag values from a YAML or JSON file; keys may use - or _."""
    if not os.path.isfile(path):
        raise ConfigError(f"--config: file '{path}' does not exist")
    try:
        with open(path) as handle:
            values = (json.load(handle) if path.endswith(".json")
                      else yaml.safe_load(handle)) or {}
    except (json.JSONDecodeError, yaml.YAMLError) as error:
        raise ConfigError(f"--config: cannot parse '{path}': {error}") from error
    if not isinstance(values, dict):
        raise ConfigError(f"--config: '{path}' must hold a mapping of flag names to values")
    values = {str(k).replace("-", "_"): v for k, v in values.items()}
    unknown = sorted(set(values) - set(known) - {"method"})
    if unknown:
        raise ConfigError(f"--config: '{path}' has unknown key(s) {unknown}")
    return values


def resolve(parser, argv, demo_defaults, paper_defaults, saved=None):
    """Namespace of resolved values: flags > --config file > saved config of
    a resumed run > mode defaults (demo, or paper with --data)."""
    args = parser.parse_args(argv)
    known = [a.dest for a in parser._actions if a.dest not in ("help", "config")]
    from_file = read_config_file(args.config, known) if args.config else {}
    given = {k: v for k, v in vars(args).items() if v is not None and k != "config"}
    layered = {**(saved or {}), **from_file, **given}
    defaults = paper_defaults if layered.get("data") else demo_defaults
    resolved = {**BASE_DEFAULTS, **defaults, **layered}
    for dest in known:
        resolved.setdefault(dest, None)
    return argparse.Namespace(**resolved)


def fail(prog, error):
    """One line on stderr and exit status 2."""
    message = str(error).strip().replace("\n", " ")
    if isinstance(error, FileNotFoundError) and error.filename and error.filename not in message:
        message = f"{message}: {error.filename}"
    print(f"{prog}: error: {message}", file=sys.stderr)
    sys.exit(2)
