"""Command line of every trainer: argparse with argument groups, plus a YAML
or JSON config file whose values the flags override; defaults depend on the
mode (the demo without ``--data``, the paper's settings with it).

Imports nothing heavy: ``--help`` and argument errors answer before
TensorFlow loads.
"""

import argparse
import dataclasses
import importlib
import math

import common
from common.data.demo import DEMOS
from common.console import Parser, program
from common.errors import quoted
from common.training.config_file import ConfigError, code_from_file, read_config_file
from common.training.config_file import option as _option

STRATEGIES = ("auto", "default", "mirrored", "multi_worker")
FLIPS = ("none", "horizontal", "vertical", "horizontal_and_vertical")
OPTIMIZERS = ("adam", "sgd")
# common.data.formats.READERS (not imported here: --help stays fast; a test checks).
FORMATS = ("aircraft", "auc", "caltech256", "cars", "cub", "food101", "imagenet", "ppmi",
           "stanford40", "statefarm", "voc2007", "wsol")


@dataclasses.dataclass(frozen=True)
class Flag:
    """One option: ``kind`` is a type or "switch"; ``low``/``high`` bound a
    number (``open_low``: strictly above ``low``, ``open_high``: strictly
    below ``high``); ``repeat``: given any
    number of times, a list (a list in files too)."""

    kind: object
    help: str
    choices: tuple = None
    low: float = None
    high: float = None
    open_low: bool = False
    open_high: bool = False
    code: bool = False
    repeat: bool = False

    def names_code(self, value):
        """Whether ``value`` would import code (a ``.keras`` file is data)."""
        return self.code and value is not None and not str(value).endswith(".keras")

    def check(self, dest, value):
        if value is None or self.kind not in (int, float):
            return
        name = "--" + dest.replace("_", "-")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                self.kind is int and not float(value).is_integer()):
            raise ConfigError(f"{name}: expected {'an integer' if self.kind is int else 'a number'}"
                              f", got {quoted(value)}")
        if not math.isfinite(value):
            raise ConfigError(f"{name}: expected a finite number, got {value}")
        too_low = self.low is not None and (value <= self.low if self.open_low
                                            else value < self.low)
        too_high = self.high is not None and (value >= self.high if self.open_high
                                              else value > self.high)
        if too_low or too_high:
            low = "" if self.low is None else f"{'>' if self.open_low else '>='} {self.low}"
            high = "" if self.high is None else f"{'<' if self.open_high else '<='} {self.high}"
            raise ConfigError(f"{name}: expected a value {' and '.join(filter(None, (low, high)))}"
                              f", got {value}")


POSITIVE = {"low": 0, "open_low": True}
GROUPS = {
    "data": {
        "data": Flag(str, "training data: a class-per-folder tree, a CSV (path,label[,split]"
                          "[,x0,y0,x1,y1]), a benchmark in its own format as FORMAT:PATH "
                          f"with FORMAT one of {', '.join(FORMATS)}, or demo:NAME with NAME "
                          f"one of {', '.join(DEMOS)}; without it the method's demo runs"),
        "val_data": Flag(str, "separate validation data (folder or CSV)"),
        "image_size": Flag(int, "square input size in pixels", low=8),
        "skip_bad_images": Flag("switch", "warn about bad images and train on the rest "
                                          "instead of stopping"),
    },
    "model": {
        "backbone": Flag(str, "backbone name (common.backbones.BACKBONES)"),
        "weights": Flag(str, "backbone weights: none, imagenet or a local weights file"),
    },
    "optimisation": {
        "epochs": Flag(int, "number of epochs", low=1),
        "batch_size": Flag(int, "global batch size (split over the replicas)", low=1),
        "optimizer": Flag(str, "optimizer", OPTIMIZERS),
        "lr": Flag(float, "learning rate", **POSITIVE),
        "momentum": Flag(float, "SGD momentum", low=0.0, high=1.0),
        "weight_decay": Flag(float, "decoupled weight decay", low=0.0, high=1.0),
        "epsilon": Flag(float, "Adam's epsilon", **POSITIVE),
        "seed": Flag(int, "random seed (data split, shuffling, initialisation)", low=0),
    },
    "augmentation": {
        "flip": Flag(str, "random flip", FLIPS),
        "rotation": Flag(float, "random rotation, max degrees (+-)", low=0.0, high=180.0),
        "translation": Flag(float, "random translation, max fraction of the size (+-)",
                            low=0.0, high=1.0),
        "zoom": Flag(float, "random zoom, max fraction (+-)", low=0.0, high=1.0),
        "brightness": Flag(str, "random brightness factor range 'low,high' (e.g. 0.5,1.5) "
                                "or none"),
        "channel_shift": Flag(float, "random intensity shift, max in 0-255 units (+-)",
                              low=0.0, high=255.0),
        "crop_from": Flag(int, "train on random --image-size crops of the image resized to "
                               "this many pixels (the papers' 'resize to 256, random crop "
                               "224'); evaluation sees the whole image at --image-size",
                          low=8),
    },
    "distribution": {
        "strategy": Flag(str, "tf.distribute strategy (multi_worker reads TF_CONFIG)",
                         STRATEGIES),
        "mixed_precision": Flag("switch", "train with the mixed_float16 policy"),
        "jit_compile": Flag("switch", "compile the train step with XLA"),
    },
    "run": {
        "output": Flag(str, "run folder (default: runs/<method>-<timestamp>)"),
        "resume": Flag("switch", "continue the interrupted run in --output from its last "
                                 "finished epoch"),
        "verbose": Flag(int, "Keras fit verbosity: 0 silent, 1 progress bars, 2 one line "
                             "per epoch (and TensorFlow's own logs)", (0, 1, 2)),
        "keep": Flag(str, "the epoch whose weights the run keeps (model.keras, metrics, "
                          "exports): the last, or the best by --keep-metric on the "
                          "validation images", ("last", "best")),
        "keep_metric": Flag(str, "the validation metric that picks the best epoch, as "
                                 "history.csv names it: val_accuracy (default), val_loss, "
                                 "val_top5, ..."),
        "at_chance": Flag(str, "a run whose kept model's validation accuracy is no better "
                               "than chance: fail (FAILED, exit status 1) or warn",
                          ("fail", "warn")),
        "export": Flag(str, "besides RUN/saved_model, also write these exports, each checked "
                            "against the Keras model: onnx, tflite, onnx,tflite or none "
                            "(needs the export extra)"),
    },
}


@dataclasses.dataclass(frozen=True)
class FlagGroup:
    """Flags shared by several trainers under one title, with their
    defaults; a guide's group (``common.training.guide_groups``) also
    builds its guides from the settings (``guides(settings, data)`` -> a
    list), says which annotations of the data they read (``reads(settings)``
    -> {annotation: flag}) and which guide argument each flag is
    (``arguments``: {flag: "name.argument"})."""

    title: str
    flags: dict
    defaults: dict
    guides: object = None
    reads: object = None
    arguments: dict = None
    renamed: dict = dataclasses.field(default_factory=dict)  # former name -> flag


BASE_DEFAULTS = {"val_data": None, "output": None, "weights": None, "seed": 0,
                 "optimizer": "adam", "momentum": 0.9, "weight_decay": 0.0, "epsilon": 1e-7,
                 "flip": "none", "rotation": 0.0, "translation": 0.0, "zoom": 0.0,
                 "brightness": "none", "channel_shift": 0.0, "crop_from": None,
                 "strategy": "auto", "mixed_precision": False, "jit_compile": False,
                 "resume": False, "skip_bad_images": False, "verbose": 1, "export": "none",
                 "keep": "best", "keep_metric": "val_accuracy", "at_chance": "fail"}


@dataclasses.dataclass(frozen=True)
class TrainCommand:
    """What ``python -m <method>.train`` offers: the method's flags and its two
    sets of defaults. ``trainer`` names the hooks class
    (``"package.module:Class"``), imported only after the arguments parse."""

    method: str
    description: str
    trainer: str
    demo_data: str
    demo_defaults: dict
    paper_defaults: dict
    flags: dict = dataclasses.field(default_factory=dict)
    shared: tuple = ()  # FlagGroups shown before the method's own flags
    # keys that runs of earlier versions wrote in config.yaml and that are no
    # longer this command's flags: --resume reads and drops them
    former: tuple = ()
    # old setting name -> new (one name per parameter): a resumed run's
    # config.yaml is read with the new names; a --config file is told them
    renamed: dict = dataclasses.field(default_factory=dict)
    # "package.module:function": called with the resolved values (a dict,
    # data and output filled in) before TensorFlow loads; returns
    # {dest: value} to use (derived settings); ValueError: refused.
    settle: str = None

    @property
    def script(self):
        """The console script (pyproject.toml): ``<method>-train``."""
        return "attention-train" if self.method == "common" else f"{self.method}-train"

    @property
    def prog(self):
        return program(self.script, f"{self.method}.train")

    def groups(self):
        groups = dict(GROUPS)
        groups.update({group.title: group.flags for group in self.shared})
        if self.flags:
            groups[self.method] = self.flags
        return groups

    def all_flags(self):
        return {dest: flag for group in self.groups().values() for dest, flag in group.items()}

    def renames(self):
        """{former setting name: its name now}, the command's and its groups'."""
        return {**self.renamed, **{old: new for group in self.shared
                                   for old, new in group.renamed.items()}}

    def base_defaults(self):
        """The defaults of every mode: BASE_DEFAULTS and the shared groups'."""
        return {**BASE_DEFAULTS, **{k: v for group in self.shared
                                    for k, v in group.defaults.items()}}


def _describe(dest, demo, paper, base):
    d, p = demo.get(dest, base.get(dest)), paper.get(dest, base.get(dest))
    if d is None and p is None:
        return ""
    return f" (default: {d})" if d == p else f" (default: {d} in the demo, {p} with --data)"


def build_parser(command, prog=None):
    """A Parser with one argument group per concern."""
    parser = Parser(prog=prog or command.prog, description=command.description,
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version",
                        version=f"%(prog)s {common.__version__}")
    parser.add_argument("--config", help="YAML or JSON file of flag values (flags win)")
    for title, flags in command.groups().items():
        group = parser.add_argument_group(title)
        for dest, flag in flags.items():
            text = flag.help + _describe(dest, command.demo_defaults, command.paper_defaults,
                                         command.base_defaults())
            if flag.kind == "switch":
                group.add_argument(_option(dest), dest=dest, action="store_true",
                                   default=None, help=flag.help)
            elif flag.repeat:
                group.add_argument(_option(dest), dest=dest, type=flag.kind, default=None,
                                   action="append", help=flag.help)
            else:
                group.add_argument(_option(dest), dest=dest, type=flag.kind, default=None,
                                   choices=flag.choices, help=text)
    return parser


def resolve(command, parser, argv, saved=None):
    """Dict of resolved values: flags > --config file > saved config of
    a resumed run > mode defaults (the demo's without --data or with
    ``--data demo:NAME``, the paper's with other data). Every value is
    checked against its flag's choices and range."""
    args = parser.parse_args(argv)
    flags = command.all_flags()
    from_file = read_config_file(args.config, flags, command.renames()) if args.config else {}
    given = {k: v for k, v in vars(args).items() if v is not None and k != "config"}
    code_from_file(flags, from_file, given, f"--config '{args.config}'")
    code_from_file(flags, saved or {}, given, "the resumed run's config.yaml")
    layered = {**(saved or {}), **from_file, **given}
    data = str(layered.get("data") or "")
    paper = bool(data) and not data.startswith("demo:")  # a demo keeps the demo's settings
    defaults = command.paper_defaults if paper else command.demo_defaults
    resolved = {**command.base_defaults(), **defaults, **layered}
    for dest, flag in flags.items():
        resolved.setdefault(dest, None)
        value = resolved[dest]
        if flag.choices and value is not None and value not in flag.choices:
            raise ConfigError(f"{_option(dest)}: expected one of {list(flag.choices)}, "
                              f"got {quoted(value)}")
        flag.check(dest, value)
    if str(resolved.get("weights")).lower() == "none":
        resolved["weights"] = None
    return resolved


def settled(command, values):
    """``values`` with the method's own resolution (``command.settle``)."""
    if not command.settle:
        return values
    module, _, name = command.settle.partition(":")
    return {**values, **getattr(importlib.import_module(module), name)(dict(values))}
