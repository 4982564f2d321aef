"""Honest timing on a shared, noisy machine: the sides of a comparison run
alternately (A B A B ...) after a warm-up, and each ratio is reported as the
median and the min-max over the rounds."""

import time

import numpy as np


def alternate(sides, rounds=7, warmup=1):
    """``sides``: name -> callable returning the seconds one measurement took
    (or None: then its wall time is taken). Returns name -> list of seconds,
    one per round, the warm-up rounds left out."""
    times = {name: [] for name in sides}
    for round_index in range(warmup + rounds):
        for name, measure in sides.items():
            start = time.perf_counter()
            seconds = measure()
            seconds = time.perf_counter() - start if seconds is None else seconds
            if round_index >= warmup:
                times[name].append(seconds)
    return times


def ratio(times, numerator, denominator):
    """Per-round ratios numerator / denominator: (median, min, max)."""
    values = np.asarray(times[numerator]) / np.asarray(times[denominator])
    return float(np.median(values)), float(values.min()), float(values.max())


def describe(times, numerator, denominator, goal=None):
    """One line: the median ratio, its spread, the medians of both sides."""
    median, low, high = ratio(times, numerator, denominator)
    verdict = "" if goal is None else (" (goal <= %.2f: %s)" % (goal, "met" if median <= goal
                                                                  else "NOT met"))
    return (f"{numerator} / {denominator}: median {median:.3f} (min {low:.3f}, max "
            f"{high:.3f}) over {len(times[numerator])} rounds; medians "
            f"{np.median(times[numerator]) * 1e3:.1f} ms vs "
            f"{np.median(times[denominator]) * 1e3:.1f} ms{verdict}")


def train_step_seconds(model, data, steps=5):
    """Median seconds of one compiled train step: ``model.train_function``
    called directly on an iterator (no fit() overhead, no retracing)."""
    model.make_train_function()
    function = model.train_function
    iterator = iter(data)

    def measure():
        seconds = []
        for _ in range(steps):
            start = time.perf_counter()
            logs = function(iterator)
            float(np.asarray(logs["loss"]).ravel()[0])  # wait for the step
            seconds.append(time.perf_counter() - start)
        return float(np.median(seconds))
    measure()  # trace and compile
    return measure
