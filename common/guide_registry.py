"""Guides by name: the entry-point group ``attention_guided.guides``.

The toolkit registers its own guides there (pyproject.toml) the way any
installed package registers its own, so ``attention-train --guide NAME``
reaches either, and ``common`` names no package that defines one:

```toml
[project.entry-points."attention_guided.guides"]
centred = "mypackage.guides:Centred"
```

``--guide-arg NAME.key=value`` gives a constructor argument, its value read
as a YAML scalar (a number, ``true``/``false``, ``null`` or a string). Names
and arguments are checked before TensorFlow loads: the names against the
installed entry points' metadata, the arguments against the constructor's
signature read from its module's source (``ast``, without importing it: the
toolkit's guides import TensorFlow). A guide whose constructor is not in its
module's source (inherited, generated) has its arguments checked when it is
built, after TensorFlow loads. Errors are ``ValueError`` naming the flag.
"""

import ast
import difflib
import importlib.util
import inspect
import re

GROUP = "attention_guided.guides"
ANNOTATIONS = ("boxes", "ignore", "attend")  # what the data can give a guide (``reads``)
REQUIRED = object()  # a parameter without a default
UNKNOWN = object()  # a default that is not a literal
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def registered():
    """name -> entry point of ``GROUP`` (``common.entry_points``)."""
    from common.entry_points import group_entry_points
    return group_entry_points(GROUP)


def parse_value(text):
    """A YAML scalar: ``10`` -> 10, ``1e-3`` -> 0.001, ``true`` -> True,
    ``null`` -> None, else the string; a list or mapping is refused."""
    import yaml
    if _NUMBER.fullmatch(text.strip()):
        number = float(text)
        return int(text) if re.fullmatch(r"[-+]?\d+", text.strip()) else number
    try:
        value = yaml.safe_load(text) if text.strip() else ""
    except yaml.YAMLError:
        return text
    if isinstance(value, (list, dict)):
        raise ValueError("expected a number, true/false, null or a string, not a "
                         f"{'list' if isinstance(value, list) else 'mapping'}")
    return value if isinstance(value, (bool, int, float, str, type(None))) else text


def parse(guides, guide_args):
    """{name: {key: (value, text)}} for ``guides`` (names, in order) from
    ``guide_args`` ("NAME.key=value" strings)."""
    guides, guide_args = _as_list(guides, "--guide"), _as_list(guide_args, "--guide-arg")
    given = {}
    for name in guides:
        if not isinstance(name, str) or not name:
            raise ValueError(f"--guide: expected a guide's name, got {name!r}")
        if name in given:
            raise ValueError(f"--guide {name}: given twice; a guide is added once")
        given[name] = {}
    for item in guide_args:
        words = item.partition("=") if isinstance(item, str) else ("", "", "")
        name, _, key = words[0].strip().partition(".")
        if not (words[1] and name and key.isidentifier()):
            raise ValueError(f"--guide-arg: expected NAME.key=value, got {item!r}")
        if name not in given:
            raise ValueError(f"--guide-arg {item}: no --guide {name} to give it to")
        if key in given[name]:
            raise ValueError(f"--guide-arg {item}: {name}.{key} given twice")
        try:
            given[name][key] = (parse_value(words[2]), words[2].strip())
        except ValueError as error:
            raise ValueError(f"--guide-arg {item}: {error}") from None
    return given


def _as_list(value, flag):
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"{flag}: expected a list, got {value!r}")
    return list(value)


def source_signature(value):
    """({parameter: default}, takes **kwargs) of the constructor of the class
    an entry point names ("module:Class"), read from its module's source
    without importing it; None where the source does not say."""
    module, _, name = value.partition(":")
    try:
        spec = importlib.util.find_spec(module.strip())
        origin = spec.origin if spec is not None else None
        if not origin or not origin.endswith(".py"):
            return None
        with open(origin, encoding="utf-8") as handle:
            tree = ast.parse(handle.read())
    except Exception:  # noqa: BLE001 (an unimportable parent package: checked when built)
        return None
    found = [node for node in tree.body if isinstance(node, ast.ClassDef)
             and node.name == name.strip()]
    init = [node for node in (found[-1].body if found else ())
            if isinstance(node, ast.FunctionDef) and node.name == "__init__"]
    if not init:
        return None
    args = init[-1].args
    if args.posonlyargs[1:] or args.vararg:
        return None
    positional = args.args[1:]
    defaults = [REQUIRED] * (len(positional) - len(args.defaults)) + list(args.defaults)
    parameters = {a.arg: _literal(d) for a, d in zip(positional, defaults)}
    parameters.update({a.arg: _literal(d if d is not None else REQUIRED)
                       for a, d in zip(args.kwonlyargs, args.kw_defaults)})
    return parameters, args.kwarg is not None


def _literal(node):
    if node is REQUIRED:
        return REQUIRED
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return UNKNOWN


def class_signature(cls):
    """``source_signature`` of a loaded class, through ``inspect``."""
    parameters, takes_any = {}, False
    for parameter in inspect.signature(cls).parameters.values():
        if parameter.kind is parameter.VAR_KEYWORD:
            takes_any = True
        elif parameter.kind is not parameter.VAR_POSITIONAL:
            default = parameter.default
            parameters[parameter.name] = REQUIRED if default is parameter.empty else default
    return parameters, takes_any


def arguments(name, what, signature, given):
    """{key: value} for the constructor of ``what`` ("module:Class") with
    ``signature`` from ``given`` ({key: (value, text)}), each value checked
    against its parameter's default: a number for a number, an integer for
    an integer, true/false for a boolean; a string default takes the text."""
    parameters, takes_any = signature
    out = {}
    for key, (value, text) in given.items():
        if key not in parameters and not takes_any:
            close = difflib.get_close_matches(key, list(parameters), n=1)
            hint = f" (did you mean {name}.{close[0]}?)" if close else ""
            raise ValueError(f"--guide-arg {name}.{key}: {what} takes no argument '{key}'; "
                             f"it takes {', '.join(parameters) or 'none'}{hint}")
        out[key] = _checked(f"--guide-arg {name}.{key}={text}", parameters.get(key, UNKNOWN),
                            value, text)
    missing = [key for key, default in parameters.items() if default is REQUIRED
               and key not in out]
    if missing:
        raise ValueError(f"--guide {name}: {what} needs "
                         + ", ".join(f"--guide-arg {name}.{key}=VALUE" for key in missing))
    return out


def _checked(where, default, value, text):
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ValueError(f"{where}: expected true or false")
        return value
    if isinstance(default, (int, float)):
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not number or value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"{where}: expected a finite number")
        if isinstance(default, int):
            if not float(value).is_integer():
                raise ValueError(f"{where}: expected an integer")
            return int(value)
        return float(value)
    if isinstance(default, str) and value is not None:
        return text
    return value


def check(guides, guide_args, points=None):
    """Before TensorFlow: every ``--guide`` name registered and every
    ``--guide-arg`` one its constructor takes, with a value of its kind
    (where the guide's source says). Returns ``parse``'s result."""
    given = parse(guides, guide_args)
    if points is None:
        points = registered() if given else {}
    for name, values in given.items():
        if name not in points:
            close = difflib.get_close_matches(name, list(points), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ValueError(f"--guide {name}: no guide of that name is installed (entry-point "
                             f"group {GROUP}: {', '.join(sorted(points)) or 'none'}){hint}")
        signature = source_signature(points[name].value)
        if signature is not None:
            arguments(name, points[name].value, signature, values)
    return given


def build(guides, guide_args, seed=None, points=None):
    """[(name, guide)]: fresh instances of the ``--guide`` guides, in order
    (imports them: after TensorFlow). A constructor that takes ``seed`` gets
    ``seed`` unless ``--guide-arg NAME.seed`` gives one."""
    from common.guidance import Guide
    points = registered() if points is None else points
    given = check(guides, guide_args, points)
    built = []
    for name, values in given.items():
        what = points[name].value
        try:
            cls = points[name].load()
        except Exception as error:  # noqa: BLE001 (a broken package: one line)
            raise ValueError(f"--guide {name}: cannot import {what}: "
                             f"{type(error).__name__}: {error}") from None
        if not (isinstance(cls, type) and issubclass(cls, Guide)):
            raise ValueError(f"--guide {name}: {what} is not a common.Guide subclass")
        signature = class_signature(cls)
        kwargs = arguments(name, what, signature, values)
        if seed is not None and "seed" in signature[0] and "seed" not in kwargs:
            kwargs["seed"] = seed
        try:
            guide = cls(**kwargs)
        except (ValueError, TypeError) as error:
            raise ValueError(f"--guide {name}: {error}") from None
        reads = tuple(getattr(guide, "reads", ()) or ())
        unknown = [r for r in reads if r not in ANNOTATIONS]
        if unknown:
            raise ValueError(f"--guide {name}: reads {unknown}; the data gives a guide "
                             f"{', '.join(ANNOTATIONS)}")
        built.append((name, guide))
    return built


def settle(values):
    """``TrainCommand.settle`` of attention-train: ``guide`` and
    ``guide_arg`` (flags, a --config file or a resumed run's config.yaml)
    as lists, checked before TensorFlow loads."""
    guides = _as_list(values.get("guide"), "--guide")
    guide_args = _as_list(values.get("guide_arg"), "--guide-arg")
    check(guides, guide_args)
    return {"guide": guides, "guide_arg": guide_args}
