# expect: OPT102
"""The helper clears between the caller's backward and its own step."""
import torch
from torch import nn

from _tiny import batches, mlp


def apply_update(optimizer):
    optimizer.zero_grad()
    optimizer.step()


model = mlp()
optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
for x, y in batches():
    nn.functional.mse_loss(model(x), y).backward()
    apply_update(optimizer)
