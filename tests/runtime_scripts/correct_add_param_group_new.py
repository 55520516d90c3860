# expect: -
"""Progressive unfreezing done right: the backbone joins the optimizer when it is unfrozen."""
import torch
from torch import nn

from _tiny import batches

backbone, head = nn.Linear(8, 16), nn.Linear(16, 1)
model = nn.Sequential(backbone, nn.ReLU(), head)
backbone.requires_grad_(False)
optimizer = torch.optim.SGD(head.parameters(), lr=0.1)
for epoch in range(2):
    if epoch == 1:
        backbone.requires_grad_(True)
        optimizer.add_param_group({"params": backbone.parameters(), "lr": 0.01})
    for x, y in batches(3):
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()
