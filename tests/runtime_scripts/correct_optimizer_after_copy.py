# expect: -
"""Twin of replaced_by_deepcopy: the optimizer is built from the copy that trains."""
import copy

import torch
from torch import nn

from _tiny import batches, mlp

model = copy.deepcopy(mlp())
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for x, y in batches():
    optimizer.zero_grad()
    nn.functional.mse_loss(model(x), y).backward()
    optimizer.step()
