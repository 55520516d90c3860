"""Shared tiny data and model for the runtime examples (CPU, seconds)."""
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def make_loader(n=64, batch_size=8):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 8, generator=g)
    y = torch.randn(n, 1, generator=g)
    return DataLoader(TensorDataset(x, y), batch_size=batch_size)


def make_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))
