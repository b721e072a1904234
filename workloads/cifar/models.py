"""The tutorial's two CIFAR-10 models, layer by layer."""

from __future__ import annotations

import torch
from torch import nn


class LeNet5(nn.Module):
    """The tutorial's LeNet5: conv(3->6, 5) ReLU pool, conv(6->16, 5) ReLU pool, 400 -> 120 -> 84 -> 10."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 6, kernel_size=5),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=2, stride=2),
            nn.Conv2d(6, 16, kernel_size=5),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=2, stride=2),
        )
        self.classifier = nn.Sequential(
            nn.Linear(16 * 5 * 5, 120),
            nn.ReLU(inplace=True),
            nn.Linear(120, 84),
            nn.ReLU(inplace=True),
            nn.Linear(84, 10),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        x = torch.flatten(x, 1)  # any memory format (channels last too)
        return self.classifier(x)


def resnet18_cifar() -> nn.Module:
    """torchvision's resnet18 without pretrained weights, its fc replaced by Linear(512, 10)."""
    import torchvision  # noqa: PLC0415 - only ResNet18 needs it: a side without torchvision runs the rest

    model = torchvision.models.resnet18(weights=None)
    model.fc = nn.Linear(512, 10)
    return model


MODELS = {"lenet5": LeNet5, "resnet18": resnet18_cifar}
AUGMENTED = {"lenet5": False, "resnet18": True}  # the tutorial's ResNet18 adds RandomCrop + RandomHorizontalFlip
