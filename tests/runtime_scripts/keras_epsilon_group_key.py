# expect: OPT301
"""Ported from Keras: epsilon as a group key is silently ignored by Adam."""
import torch
from torch import nn

from _tiny import batches, mlp

model = mlp()
optimizer = torch.optim.Adam([{"params": model.parameters(), "epsilon": 1e-7}], lr=1e-3)
for x, y in batches(3):
    optimizer.zero_grad()
    nn.functional.mse_loss(model(x), y).backward()
    optimizer.step()
