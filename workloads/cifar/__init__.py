"""CIFAR-10 training: data sources, the tutorial's models, two data paths, the training workloads."""

from workloads.cifar import ddp, step, train  # noqa: F401 - registers the workloads
