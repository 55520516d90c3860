# expect: OPT201
"""The epoch loop steps the scheduler at its head, before any optimizer step."""
import torch
from torch import nn

from _tiny import batches, mlp

model = mlp()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[2, 3])
for epoch in range(4):
    scheduler.step()
    for x, y in batches(3):
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()
