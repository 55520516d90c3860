# expect: -
"""Losses of a window summed with their graphs on purpose, then one backward per window."""
import torch
from torch import nn

from _tiny import batches, mlp

model = mlp()
optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
data = batches(12)
for start in range(0, len(data), 3):
    optimizer.zero_grad()
    window_loss = 0
    for x, y in data[start:start + 3]:
        window_loss = window_loss + nn.functional.mse_loss(model(x), y) / 3
    window_loss.backward()
    optimizer.step()
