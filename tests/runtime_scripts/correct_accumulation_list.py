# expect: -
"""Twin of accumulation_cleared_list: clearing after the window's step."""
import torch
from torch import nn

from _tiny import batches, mlp

model = mlp()
optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
accum = 4
for i, (x, y) in enumerate(batches(16)):
    (nn.functional.mse_loss(model(x), y) / accum).backward()
    if (i + 1) % accum == 0:
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad()
