"""The entry point torchrun starts on every rank of a ``cifar_ddp`` job (kept apart from the
workload's module so that running it does not declare the workload a second time)."""

from workloads.cifar.ddp import worker

worker()
