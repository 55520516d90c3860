# expect: -
"""GradScaler skips the steps whose gradients overflow (a huge initial scale): no window."""
import torch
from torch import nn

from _tiny import batches, mlp

model = mlp()
optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 126, growth_interval=1)
for x, y in batches(8):
    optimizer.zero_grad()
    scaler.scale(nn.functional.mse_loss(model(x), y) * 1e4).backward()
    scaler.step(optimizer)
    scaler.update()
