# expect: -
"""CosineAnnealingWarmRestarts stepped per batch with epoch + i / iters, as documented."""
import torch
from torch import nn

from _tiny import batches, mlp

model = mlp()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
scheduler = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0=2)
data = batches(8)
iters = len(data)
for epoch in range(4):
    for i, (x, y) in enumerate(data):
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()
        scheduler.step(epoch + i / iters)
