# expect: OPT106
"""Accumulation over 4 micro-batches, but zero_grad runs on every micro-batch."""
import torch
from torch import nn

from _tiny import batches, mlp

model = mlp()
optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
accum = 4
for i, (x, y) in enumerate(batches(16)):
    optimizer.zero_grad()
    (nn.functional.mse_loss(model(x), y) / accum).backward()
    if (i + 1) % accum == 0:
        optimizer.step()
