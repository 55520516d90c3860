# expect: OPT202
"""CosineAnnealingWarmRestarts with T_0 in epochs, stepped per batch without the epoch
fraction its documentation prescribes."""
import torch
from torch import nn

from _tiny import batches, mlp

model = mlp()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
scheduler = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0=2)
data = batches(8)
for epoch in range(4):
    for x, y in data:
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()
        scheduler.step()
