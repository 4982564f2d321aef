"""``main(command, argv)``: the entry of every ``python -m <method>.train``.

It parses and resolves the arguments before TensorFlow is imported (so
``--help`` and argument errors answer at once), then imports the method's
hooks and hands over to ``common.training.harness``.
"""

import importlib
import os
import shlex

import sys

from common.console import fail
from common.errors import printable
from common.io import read_yaml
from common.commandline import quiet
from common.training import cli, run_exports, runfolder, workers
from common.training.config_file import config_values
from common.training.settings import Settings


def parse(command, argv=None):
    """The ``Settings`` of one training run, resolved once (user errors raise)."""
    parser = cli.build_parser(command)
    command_line = parser.parse_args(argv)  # before --config and saved values
    saved = None
    if command_line.resume:
        if not command_line.output:
            raise cli.ConfigError("--resume needs --output, the run folder to continue")
        runfolder.prepare(command_line.output, resume=True)
        path = runfolder.run_file(command_line.output, "config.yaml")
        # What this command itself writes there: its flags and every default.
        known = {*command.all_flags(), *command.base_defaults(), *command.demo_defaults,
                 *command.paper_defaults, *command.former, "resume"}
        saved = read_yaml(path)
        if isinstance(saved, dict):  # a run of an earlier version: its settings' new names
            saved = {command.renames().get(key, key): value for key, value in saved.items()}
        made_by = saved.get("method") if isinstance(saved, dict) else None
        if made_by and made_by != command.method:  # it would rewrite another method's run
            raise cli.ConfigError(
                f"--resume: '{command_line.output}' is a run of {printable(made_by)} "
                f"({'attention-train' if made_by == 'common' else f'{made_by}-train'}), "
                f"not of {command.script}; resume it with that command")
        saved = config_values(saved, known, f"--resume: '{path}'")
        saved = {k: v for k, v in saved.items()
                 if k not in ("resume", "method", *command.former)}
        # The run's other files, read as data before anything starts.
        runfolder.read_backup_metadata(os.path.join(command_line.output, "backup"))
        history = os.path.join(command_line.output, "history.csv")
        if os.path.lexists(history) and os.path.getsize(history):
            runfolder.read_history(runfolder.run_file(command_line.output, "history.csv"))
    values = cli.resolve(command, parser, argv, saved)
    values["data"] = values["data"] or command.demo_data  # recorded: the report compares data
    values["output"] = values["output"] or runfolder.default_output(command.method)
    if workers.is_chief():
        runfolder.check_writable(values["output"])
    try:  # an unknown format or a missing extra: said before training
        values["export"] = ",".join(run_exports.parse_formats(values["export"])) or "none"
    except ValueError as error:
        raise cli.ConfigError(str(error)) from error
    args = Settings(cli.settled(command, values))
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
    """Runs one training from the command line; returns the run folder. An
    interrupt outside training (which the harness reports itself) is one
    line and exit status 130."""
    try:
        args = parse(command, argv)
    except ValueError as error:  # ConfigError, RunFolderError, a config.yaml not plain YAML
        fail(command.prog, error)
    words = sys.argv[1:] if argv is None else list(argv)
    command_line = f"{command.prog} {shlex.join(words)}".strip()
    try:
        return _train(command, args, command_line)
    except KeyboardInterrupt:
        started = os.path.isfile(os.path.join(args.output, "config.yaml"))
        next_step = (f"; start it again with `{runfolder.resume_command(command, args)}`"
                     if started else "")
        print(f"{command.prog}: interrupted; the run folder {args.output} keeps what was "
              f"written{next_step}", file=sys.stderr)
        sys.exit(130)


def _train(command, args, command_line):
    quiet.import_tensorflow(args.verbose)
    from common.training import harness
    return harness.train(command, trainer_of(command), args, command_line)
