# expect: OPT101
"""LBFGS re-evaluates the closure; without zero_grad every evaluation piles onto the last."""
import torch
from torch import nn

from _tiny import batches, mlp

model = mlp()
optimizer = torch.optim.LBFGS(model.parameters(), lr=0.5, max_iter=4)
x, y = batches(1)[0]
for it in range(4):
    def closure():
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        return loss
    optimizer.step(closure)
