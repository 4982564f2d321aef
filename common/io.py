"""Atomic file writes: a reader never sees half a file, and a crash never
destroys the previous version (write to a temporary name, then rename)."""

import json
import os

import yaml


def atomic_write(path, write):
    """Calls ``write(tmp_path)`` then renames tmp_path onto ``path``."""
    folder, name = os.path.split(path)
    tmp = os.path.join(folder, f".tmp-{os.getpid()}-{name}")  # keeps the full suffix
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def atomic_write_folder(path, write):
    """Calls ``write(tmp_folder)`` then puts it in place of ``path``: a
    killed write leaves a hidden temporary folder, never a half folder
    under the real name (an old one is replaced only once the new one is
    complete)."""
    import shutil
    parent, name = os.path.split(os.path.abspath(path))
    tmp = os.path.join(parent, f".tmp-{os.getpid()}-{name}")
    old = os.path.join(parent, f".old-{os.getpid()}-{name}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        write(tmp)
        if os.path.exists(path):
            os.replace(path, old)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def write_text(path, text):
    def write(tmp):
        with open(tmp, "w") as handle:
            handle.write(text)
    atomic_write(path, write)


def write_json(path, value):
    write_text(path, json.dumps(value, indent=2, sort_keys=True) + "\n")


def write_yaml(path, value):
    write_text(path, yaml.safe_dump(value, sort_keys=True))


# Caps of the files a run folder or a config holds (data, read from anywhere):
# far above what the toolkit writes, far below what could hurt the machine.
MAX_DATA_FILE = 16 << 20  # bytes of one YAML/JSON/CSV file
MAX_VALUES = 100_000  # values in one document, YAML aliases expanded
MAX_DEPTH = 32  # nesting of lists and mappings


def read_text(path, limit=MAX_DATA_FILE):
    """The UTF-8 text of a data file of at most ``limit`` bytes (checked
    before reading, and at most ``limit + 1`` bytes read); else one-line
    ValueError naming it."""
    size = os.path.getsize(path)
    if size > limit:
        raise ValueError(f"'{path}' has {size:,} bytes, more than the {limit:,} a data file "
                         "may have here")
    with open(path, "rb") as handle:
        raw = handle.read(limit + 1)
    if len(raw) > limit:
        raise ValueError(f"'{path}' grew past {limit:,} bytes while it was read")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"'{path}' is not UTF-8 text (byte {error.start})") from None


def _too_deep(path):
    return ValueError(f"'{path}' is nested more than {MAX_DEPTH} levels deep; refused")


def _check_shape(value, path):
    """Refuses documents nested deeper than MAX_DEPTH or holding more than
    MAX_VALUES values (walked without recursion; a value shared by YAML
    aliases counts each time it is used, as a reader would meet it)."""
    stack, count = [(value, 1)], 0
    while stack:
        item, depth = stack.pop()
        count += 1
        if count > MAX_VALUES:
            raise ValueError(f"'{path}' holds more than {MAX_VALUES:,} values (a YAML alias "
                             "bomb?); refused")
        if isinstance(item, (list, dict)):
            if depth > MAX_DEPTH:
                raise _too_deep(path)
            children = list(item.keys()) + list(item.values()) if isinstance(item, dict) \
                else item
            stack.extend((child, depth + 1) for child in children)
    return value


def read_json(path, limit=MAX_DATA_FILE):
    """The plain data of a JSON file, within the caps above; a file that is
    not JSON, too large or too deep is a one-line ValueError naming it."""
    text = read_text(path, limit)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"'{path}' is not JSON: {error.msg} (line {error.lineno})") from None
    except RecursionError:  # the parser's own recursion, before _check_shape
        raise _too_deep(path) from None
    return _check_shape(value, path)


def _expanded_size(node):
    """How many values a composed YAML node stands for once its aliases are
    expanded, computed over the node graph (each node once), so an alias
    bomb is measured without being expanded."""
    import yaml
    sizes, stack = {}, [(node, False)]
    while stack:
        item, children_done = stack.pop()
        if id(item) in sizes:
            continue
        children = []
        if isinstance(item, yaml.SequenceNode):
            children = item.value
        elif isinstance(item, yaml.MappingNode):
            children = [part for pair in item.value for part in pair]
        if children_done or not children:
            sizes[id(item)] = min(1 + sum(sizes.get(id(c), 0) for c in children),
                                  MAX_VALUES + 1)
        else:
            stack.append((item, True))
            stack.extend((child, False) for child in children if id(child) not in sizes)
    return sizes[id(node)]


def read_yaml(path, limit=MAX_DATA_FILE):
    """The plain data of a YAML file: ``safe_load``'s loader (Python tags
    such as ``!!python/object`` are refused, so reading runs no code),
    within the caps above, aliases measured before they are expanded; a
    file it cannot parse is a ValueError of one line naming it."""
    import yaml
    text = read_text(path, limit)
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return {}
        if _expanded_size(node) > MAX_VALUES:
            raise ValueError(f"'{path}' holds more than {MAX_VALUES:,} values once its YAML "
                             "aliases are expanded (an alias bomb?); refused")
        value = loader.construct_document(node)
    except yaml.YAMLError as error:  # its message quotes the line: at most 160 characters
        reason = " ".join(str(error).split())
        reason = reason if len(reason) <= 160 else reason[:157] + "..."
        raise ValueError(f"'{path}' is not plain YAML: {reason}") from None
    except RecursionError:  # the parser's own recursion, before _check_shape
        raise _too_deep(path) from None
    finally:
        loader.dispose()
    return _check_shape(value, path) if value is not None else {}
