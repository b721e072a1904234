"""The workloads: one module per family, each declaring its workloads with
``bench.registry.workload``.  Importing this package registers them all;
adding a workload means adding one decorated function to one module here."""

from workloads import (  # noqa: F401 - imported to register their workloads
    autograd,
    checkpoint,
    cifar,
    layers,
    losses_optim,
    math_ops,
    matrix,
    recurrent,
    tensors,
)
