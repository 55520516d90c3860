# expect: -
"""The step is skipped when the gradient norm is not finite; the next iteration clears."""
import torch
from torch import nn

from _tiny import batches, mlp

model = mlp()
optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
for i, (x, y) in enumerate(batches(10)):
    optimizer.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    if i in (3, 6):
        loss = loss * float("inf")
    loss.backward()
    norm = nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    if not torch.isfinite(norm):
        continue
    optimizer.step()
