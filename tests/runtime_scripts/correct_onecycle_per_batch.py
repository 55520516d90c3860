# expect: -
"""OneCycleLR sized in iterations and stepped per batch, as intended."""
import torch
from torch import nn

from _tiny import batches, mlp

model = mlp()
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
data = batches(8)
scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=1e-2, epochs=3, steps_per_epoch=len(data))
for epoch in range(3):
    for x, y in data:
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()
        scheduler.step()
