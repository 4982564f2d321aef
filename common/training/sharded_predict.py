"""The final evaluation under a multi-worker strategy: each worker predicts
its share of the test rows (``index::workers``) through the same input
pipeline, and the rows and probabilities are all-gathered with the
strategy's collectives, so every worker ends with the N x C table in the
table's order, as one process would have predicted it; a method's counts
(``Shard.sum``) are summed the same way.

Collectives rather than files merged by the chief: they travel over the
channel training already uses, so workers on different machines need no
shared disk, and a worker that dies makes the others fail with
``UnavailableError`` instead of waiting for a file that never comes.

Example:

```python
rows = shard_rows(len(table), index, count)
local = network.predict(make_dataset(table.iloc[rows], ...))
probabilities = gather_rows(strategy, rows, local, len(table))
```
"""

import numpy as np
import tensorflow as tf


def shard_rows(count, index, workers):
    """This worker's rows of a table of ``count``: ``index::workers``
    (shares differ by at most one row, and every class is spread evenly)."""
    return np.arange(index, count, workers, dtype=np.int64)


def _all_gather(strategy, array):
    """``array`` of every worker, concatenated (sizes may differ). A worker
    with several local replicas sends it from its first one only."""
    local = len(strategy.extended.worker_devices)
    parts = [array] + [array[:0]] * (local - 1)
    values = strategy.experimental_distribute_values_from_function(
        lambda context: tf.constant(parts[context.replica_id_in_sync_group % local]))
    return strategy.gather(values, axis=0).numpy()


def gather_rows(strategy, rows, values, count):
    """(count, ...): every worker's ``values`` (one per entry of its
    ``rows``), put back in row order. Raises ValueError unless every row
    of the table came from exactly one worker."""
    values = np.asarray(values)
    all_rows = _all_gather(strategy, np.asarray(rows, np.int64))
    all_values = _all_gather(strategy, values)
    if len(all_rows) != count or not np.array_equal(np.sort(all_rows), np.arange(count)):
        raise ValueError(f"the workers' shares of the {count} test rows do not cover each "
                         f"row once ({len(all_rows)} rows gathered): do all workers run with "
                         "the same test table and TF_CONFIG?")
    result = np.empty((count, *values.shape[1:]), values.dtype)
    result[all_rows] = all_values
    return result


class Shard:
    """This process's part of the final evaluation, handed to a trainer's
    ``extra_metrics(..., shard=...)``: ``rows`` of the test table to score,
    ``gather`` for per-row values (every worker gets the whole table's, in
    order) and ``sum`` for counts (every worker gets the total). Without a
    strategy it is the whole table and both are the identity, so a method
    writes its metric once for one process and for many workers."""

    def __init__(self, count, index=0, workers=1, strategy=None):
        self.count, self.strategy = count, strategy
        self.rows = shard_rows(count, index, workers) if strategy else np.arange(count)

    def gather(self, values):
        """(count, ...) from this worker's (len(rows), ...) ``values``."""
        return values if self.strategy is None else gather_rows(self.strategy, self.rows,
                                                                values, self.count)

    def sum(self, counts):
        """The element-wise sum of every worker's int64 ``counts`` vector."""
        counts = np.asarray(counts, np.int64).reshape(1, -1)
        if self.strategy is None:
            return counts[0]
        return _all_gather(self.strategy, counts).sum(axis=0)
