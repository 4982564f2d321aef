"""``main(command, argv)``: the entry of every ``python -m <method>.train``.

It parses and resolves the arguments before TensorFlow is imported (so
``--help`` and argument errors answer at once), then imports the method's
hooks and hands over to ``common.training.harness``.
"""

import importlib
import os

from common.io import read_yaml
from common.training import cli, quiet, run_exports, runfolder, workers


def parse(command, argv=None):
    """The resolved arguments of one training run (user errors raise)."""
    parser = cli.build_parser(command)
    command_line = parser.parse_args(argv)  # before --config and saved values
    saved = None
    if command_line.resume:
        if not command_line.output:
            raise cli.ConfigError("--resume needs --output, the run folder to continue")
        runfolder.prepare(command_line.output, resume=True)
        saved = read_yaml(os.path.join(command_line.output, "config.yaml"))
        saved = {k: v for k, v in saved.items() if k not in ("resume", "method")}
    args = cli.resolve(command, parser, argv, saved)
    args.output = args.output or runfolder.default_output(command.method)
    try:  # an unknown format or a missing extra: said before training
        args.export = ",".join(run_exports.parse_formats(args.export)) or "none"
    except ValueError as error:
        raise cli.ConfigError(str(error)) from error
    if args.strategy == "multi_worker" and workers.task()[2] > 1 and not command_line.output:
        raise cli.ConfigError("--strategy multi_worker needs --output: every worker must "
                              "name the same run folder")
    fresh = not args.resume and os.path.isdir(args.output) and os.listdir(args.output)
    if fresh and workers.is_chief():
        runfolder.prepare(args.output, resume=False)  # raises: never overwrite
    return args


def trainer_of(command):
    """An instance of the hooks class ``command.trainer`` names."""
    module, name = command.trainer.split(":")
    return getattr(importlib.import_module(module), name)(command)


def main(command, argv=None):
    """Runs one training from the command line; returns the run folder."""
    try:
        args = parse(command, argv)
    except ValueError as error:  # ConfigError, RunFolderError, a config.yaml not plain YAML
        cli.fail(command.prog, error)
    quiet.import_tensorflow(args.verbose)
    from common.training import harness
    return harness.train(command, trainer_of(command), args)
