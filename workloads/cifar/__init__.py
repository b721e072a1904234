"""CIFAR-10 training: data sources, the tutorial's models, two data paths, the training workload."""

from workloads.cifar import train  # noqa: F401 - registers the workload
