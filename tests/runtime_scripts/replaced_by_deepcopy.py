# expect: OPT305
"""The optimizer is built, then the model is rebound to a copy for 'safety': the step updates
the old parameters, the copy trains on nothing."""
import copy

import torch
from torch import nn

from _tiny import batches, mlp

model = mlp()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
model = copy.deepcopy(model)
for x, y in batches():
    optimizer.zero_grad()
    nn.functional.mse_loss(model(x), y).backward()
    optimizer.step()
