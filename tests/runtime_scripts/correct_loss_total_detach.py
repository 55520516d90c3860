# expect: -
"""A tensor total of detached losses (no sync per step): no graph is kept."""
import torch
from torch import nn

from _tiny import batches, mlp

model = mlp()
optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
total = torch.zeros(())
for x, y in batches(12):
    optimizer.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    optimizer.step()
    total += loss.detach()
print(total.item())
