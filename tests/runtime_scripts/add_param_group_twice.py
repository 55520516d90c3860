# expect: OPT402
"""Unfreezing the backbone adds a group with parameters the optimizer already holds."""
import torch
from torch import nn

from _tiny import batches

backbone, head = nn.Linear(8, 16), nn.Linear(16, 1)
model = nn.Sequential(backbone, nn.ReLU(), head)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for epoch in range(2):
    if epoch == 1:
        optimizer.add_param_group({"params": backbone.parameters(), "lr": 0.01})
    for x, y in batches(3):
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()
