"""Training: Trainer hooks, the harness, its CLI, run folder, callbacks,
distribution, metrics and plots."""
