"""The harness of the PyTorch benchmark suite: everything that is not a workload."""
