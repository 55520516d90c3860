# expect: -
"""Twin of replaced_by_assign_load: load_state_dict copies into the existing parameters."""
import torch
from torch import nn

from _tiny import batches, mlp

model = mlp()
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
model.load_state_dict(mlp(seed=1).state_dict())
for x, y in batches():
    optimizer.zero_grad()
    nn.functional.mse_loss(model(x), y).backward()
    optimizer.step()
