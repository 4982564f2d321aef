"""This process's role in a multi-worker run, read from TF_CONFIG (the same
variable MultiWorkerMirroredStrategy reads), without TensorFlow.

Only the chief writes the run folder: worker 0 of the "worker" tasks, or the
"chief" task where the cluster has one (the Keras multi-worker guide's
convention). The other workers write their copies to a temporary folder
that is removed at the end.
"""

import hashlib
import json
import os
import shutil
import tempfile


def task():
    """(task type, task index, number of workers), or (None, 0, 1) without
    a multi-worker TF_CONFIG."""
    config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    cluster = config.get("cluster") or {}
    count = sum(len(cluster.get(kind, [])) for kind in ("chief", "worker"))
    if count <= 1:
        return None, 0, 1
    info = config.get("task") or {}
    return info.get("type"), int(info.get("index", 0)), count


def is_chief():
    kind, index, _ = task()
    config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    has_chief = bool((config.get("cluster") or {}).get("chief"))
    return kind is None or kind == "chief" or (kind == "worker" and index == 0
                                               and not has_chief)


def share():
    """(index, count): this process's place among the chief and worker
    tasks (the chief first), e.g. for its share of the test rows."""
    kind, index, count = task()
    config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    has_chief = bool((config.get("cluster") or {}).get("chief"))
    return (0 if kind in (None, "chief") else index + has_chief), count


def worker_folder(output):
    """Where this process writes: ``output`` on the chief, elsewhere a
    temporary folder named after the run and the task, emptied first, so a
    worker restarted after a crash reuses (and then removes) its old one."""
    if is_chief():
        return output
    kind, index, _ = task()
    digest = hashlib.sha1(os.path.abspath(output).encode()).hexdigest()[:12]
    folder = os.path.join(tempfile.gettempdir(), f"attention-{kind}{index}-{digest}")
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    return folder


def remove_worker_folder(folder, output):
    if folder != output:
        shutil.rmtree(folder, ignore_errors=True)
