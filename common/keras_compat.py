"""The one place that relies on Keras internals or works around Keras
bugs, each with the reason no public API does the job (and
``common.training.interrupt_latch``, for a bug that swallows Ctrl-C);
``tests/common/test_keras_compat.py`` fails loudly when a Keras upgrade
changes them (or fixes the bugs, so the workarounds can go)."""

import contextlib
import contextvars
import io
import math
import os
import zipfile
import zlib

import h5py
import keras
import tensorflow as tf


def producing_layer(tensor):
    """The layer whose call produced a symbolic (Keras) tensor.

    Keras 3 has no public link from a functional graph's tensor to its
    producer: ``layer.output`` of a nested model is the model's *inner*
    output, not the tensor its call produced in the outer graph. Every
    KerasTensor records ``_keras_history = (operation, node_index,
    tensor_index)``.
    """
    history = getattr(tensor, "_keras_history", None)
    if history is None:
        raise TypeError(f"{tensor!r} is not a symbolic tensor of a functional model")
    return history.operation


def producing_node(tensor):
    """The graph node (a layer's call: ``input_tensors``, ``is_input``) that
    produced a symbolic tensor, or None for a tensor no operation produced.
    The same missing public link as ``producing_layer``: the node is
    ``operation._inbound_nodes[node_index]`` of ``_keras_history``."""
    history = getattr(tensor, "_keras_history", None)
    if history is None or history.operation is None:
        return None
    return history.operation._inbound_nodes[history.node_index]


def in_multi_worker_mode(strategy):
    """Whether ``strategy`` spans several worker processes (TF_CONFIG)."""
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return False
    resolver = strategy.cluster_resolver
    spec = resolver.cluster_spec().as_dict() if resolver is not None else {}
    return sum(len(tasks) for tasks in spec.values()) > 1


def first_replica(strategy, batch):
    """``batch`` with every distributed value replaced by the first local
    replica's part (the shapes and dtypes a symbolic build needs)."""
    return keras.tree.map_structure(
        lambda v: strategy.experimental_local_results(v)[0]
        if isinstance(v, tf.distribute.DistributedValues) else v, batch)


def reducible_logs(logs):
    """Step logs that Keras can reduce in multi-worker mode.

    tensorflow/tensorflow#72388: with MultiWorkerMirroredStrategy, Keras 3's
    ``reduce_per_replica`` reduces each scalar log with
    ``strategy.reduce("MEAN", v, axis=0)``, which fails ("Invalid reduction
    dimension 0 for input with 0 dimensions"). A (1,) log reduces to the
    same scalar. Elsewhere the logs stay scalars.
    """
    if not in_multi_worker_mode(tf.distribute.get_strategy()):
        return logs
    return {name: tf.reshape(value, (1,)) for name, value in logs.items()}


class DistributedBuildFix:
    """Mixin for ``keras.Model`` subclasses: the symbolic build of ``fit``
    under a tf.distribute strategy reads the first replica's batch.

    keras-team/keras#20329: Keras 3's ``_maybe_symbolic_build`` reduces the
    whole first data batch with ``strategy.reduce("MEAN", batch, axis=None)``
    only to learn its shapes; the collective (multi-worker) strategy cannot
    reduce nested structures ("Attempt to convert a value (PerReplica...)"),
    and when the last batch splits unevenly over the replicas their shapes
    differ (AddN fails). It also takes that batch with ``next()`` from the
    training iterator, which ``steps_per_epoch`` keeps across epochs, so the
    first batch is never trained on. The build needs shapes and dtypes only:
    this reads them from the dataset's ``element_spec`` (the first replica's
    ``TensorSpec``s) and iterates nothing, so the data order does not depend
    on it either. Overrides that private method;
    ``tests/common/test_keras_compat.py`` fails when Keras changes it.

    It also builds without a strategy, where Keras defers the build to the
    first trace of the train step: the optimizer's slots and the metrics'
    state are then created inside it, and tf.function traces the step a
    second time (tensorflow/tensorflow#48851). Built first, the step is
    traced once: the README's guided MobileNetV3 example fits its two
    steps in 26 s instead of 41 s here.
    """

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        if iterator is not None:
            data_batch = keras.tree.map_structure(
                lambda spec: spec._value_specs[0] if hasattr(spec, "_value_specs") else spec,
                iterator._get_iterator().element_spec)
        else:
            data_batch = first_replica(self.distribute_strategy, data_batch)
        with self.distribute_strategy.scope():
            self._symbolic_build(data_batch=data_batch)


# Weights from elsewhere. Keras's own guards (keras/src/saving/saving_lib.py)
# refuse one HDF5 dataset or zip member only above a 4 GiB floor, so five
# datasets of 3.7 GiB pass, and HDF5 lets a dataset declare any shape with no
# storage allocated (its fill value is read instead): Keras then allocates
# what the file declares. These bound what a file declares by its own size,
# read from its metadata before Keras loads it.
SLACK = 1 << 20        # 1 MiB over the multiples below: small files
H5_FACTOR = 2          # Keras writes uncompressed contiguous arrays: <= 1 x
COMPRESSED_RATIO = 100  # compressed storage (HDF5 filters, zip members): Keras's zip ratio
WEIGHTS_MEMBER = "model.weights.h5"  # where a .keras archive keeps its weights


def size_text(count):
    """``count`` bytes as a short text (``3.7 GiB``)."""
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1024


def _declared(shape, dtype):
    return math.prod(shape or ()) * dtype.itemsize


def h5_declared_bytes(source, size, name):
    """Bytes the datasets and attributes of the HDF5 file ``source`` (a path
    or file object of ``size`` bytes) declare, counted once per hard link, as
    Keras would read them; no data is read. Raises a one-line ValueError
    starting with ``name`` for links and external or virtual datasets (Keras
    writes none) and when they declare more than ``H5_FACTOR`` x ``size`` +
    ``SLACK``, plus ``COMPRESSED_RATIO`` x what filtered datasets store."""
    declared, compressed, refused = 0, 0, []
    try:
        with h5py.File(source, "r") as handle:
            def attributes(item):
                return sum(_declared(item.attrs.get_id(key).shape, item.attrs.get_id(key).dtype)
                           for key in item.attrs)

            def visit(path, link):
                nonlocal declared, compressed
                if not isinstance(link, h5py.HardLink):
                    refused.append(f"holds a {type(link).__name__} ('{path}')")
                    return True
                item = handle[path]
                declared += attributes(item)
                if isinstance(item, h5py.Dataset):
                    if item.external or item.is_virtual:
                        refused.append(f"holds an external or virtual dataset ('{path}')")
                        return True
                    declared += _declared(item.shape, item.dtype)
                    if item.id.get_create_plist().get_nfilters():
                        compressed += item.id.get_storage_size()
                return None

            declared += attributes(handle)
            handle.visititems_links(visit)
    except (OSError, ValueError, KeyError, RuntimeError, TypeError) as error:
        raise ValueError(f"{name} is not a readable HDF5 file: "
                         f"{' '.join(str(error).split())[:200]}") from None
    if refused:
        raise ValueError(f"{name} {refused[0]}, which Keras never writes; refused")
    if declared > H5_FACTOR * size + SLACK + COMPRESSED_RATIO * compressed:
        raise ValueError(
            f"{name} declares {size_text(declared)} of arrays in {size_text(size)}: more than "
            f"a weights file holds ({H5_FACTOR} x its size + 1 MiB, compressed datasets "
            f"{COMPRESSED_RATIO} x what they store); refused before loading")
    return declared


def check_archive(archive, path, name):
    """Refuses a zip archive whose members together declare more than
    ``COMPRESSED_RATIO`` x its size + ``SLACK`` (Keras writes them stored)."""
    size = os.path.getsize(path)
    declared = sum(info.file_size for info in archive.infolist())
    if declared > COMPRESSED_RATIO * size + SLACK:
        raise ValueError(f"{name}: its members declare {size_text(declared)} in an archive of "
                         f"{size_text(size)} (at most {COMPRESSED_RATIO} x its size + 1 MiB); "
                         "refused as a decompression bomb")


def archive_weights_bytes(archive, name):
    """``h5_declared_bytes`` of a .keras archive's ``model.weights.h5`` (after
    ``check_archive``), read into memory no further than its declared size."""
    try:
        info = archive.getinfo(WEIGHTS_MEMBER)
    except KeyError:
        raise ValueError(f"{name} holds no {WEIGHTS_MEMBER} (weights in another format are "
                         "not read)") from None
    with archive.open(info) as member:
        data = member.read(info.file_size + 1)
    if len(data) != info.file_size:
        raise ValueError(f"{name}: its {WEIGHTS_MEMBER} holds {len(data)} bytes, not the "
                         f"{info.file_size} its header declares")
    return h5_declared_bytes(io.BytesIO(data), len(data), f"{name} ({WEIGHTS_MEMBER})")


def check_weights_file(path):
    """Refuses, in one ValueError line naming ``path``, a weights file that
    declares more than it can hold, choosing the format by the name as
    ``model.load_weights`` does (``.keras``: its weights member; ``.h5``,
    ``.hdf5``, ``.weights.h5``: the file; ``.weights.json``: sharded, not
    read). Other names are left to their own readers."""
    text = os.fspath(path)
    name = f"weights file '{text}'"
    try:
        if text.endswith(".keras"):
            with zipfile.ZipFile(text) as archive:
                check_archive(archive, text, name)
                return archive_weights_bytes(archive, name)
        if text.endswith(".weights.json"):
            raise ValueError(f"{name}: sharded weights are not read; save them as one "
                             ".weights.h5")
        if text.endswith((".h5", ".hdf5")):
            return h5_declared_bytes(text, os.path.getsize(text), name)
    except (OSError, EOFError, RuntimeError, NotImplementedError, zipfile.BadZipFile,
            zlib.error) as error:
        raise ValueError(f"{name} could not be read: {' '.join(str(error).split())[:200]}"
                         ) from None
    return None


def load_weights(model, path):
    """``model.load_weights(path)`` after ``check_weights_file(path)``."""
    check_weights_file(path)
    model.load_weights(path)


# A .keras config builds whatever layers it names (a Dense layer of 10^8
# units), and Keras allocates each variable as the layer builds. No public
# API bounds that: keras.StatelessScope defers variables made from an
# initializer but refuses those made from a value (every toolkit model has
# one: an optimizer's iterations, FSA's stage) and leaves the deferred ones
# in Keras's global list, initialised at the next scope's exit. The TF
# backend Variable's ``_initialize_with_initializer`` is where an
# initializer's value is made; ``variable_budget`` counts declared bytes
# there, before allocating.
_BUDGET = contextvars.ContextVar("variable_budget", default=None)


class VariableBudget:
    def __init__(self, limit):
        self.limit, self.spent, self.refused = limit, 0, None


def _budgeted(original):
    def initialize(self, initializer):
        budget = _BUDGET.get()
        if budget is not None:
            budget.spent += math.prod(self._shape) * max(tf.as_dtype(self._dtype).size, 1)
            if budget.spent > budget.limit:
                budget.refused = (
                    f"creates more than {size_text(budget.limit)} of variables (at "
                    f"{self.path}, shape {tuple(self._shape)}): more than its weights can "
                    "fill; refused before allocating")
                raise ValueError(budget.refused)
        return original(self, initializer)
    initialize.budgeted = True
    return initialize


@contextlib.contextmanager
def variable_budget(limit):
    """Within it, creating Keras variables from initializers whose declared
    bytes add up to more than ``limit`` raises ValueError before allocating;
    the yielded ``VariableBudget`` says why in ``refused`` (Keras may wrap
    the error in its own)."""
    original = keras.Variable._initialize_with_initializer
    if not getattr(original, "budgeted", False):
        keras.Variable._initialize_with_initializer = _budgeted(original)
    budget = VariableBudget(limit)
    token = _BUDGET.set(budget)
    try:
        yield budget
    finally:
        _BUDGET.reset(token)
