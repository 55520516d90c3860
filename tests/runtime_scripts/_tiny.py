"""Tiny shared pieces for the runtime scripts: a seeded MLP, batches, a DataLoader (CPU, ms)."""
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def mlp(seed=0, width=16):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(8, width), nn.ReLU(), nn.Linear(width, 1))


def batches(n=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(4, 8, generator=g), torch.randn(4, 1, generator=g)) for _ in range(n)]


def loader(n=32, batch_size=4):
    g = torch.Generator().manual_seed(0)
    return DataLoader(TensorDataset(torch.randn(n, 8, generator=g), torch.randn(n, 1, generator=g)),
                      batch_size=batch_size)
