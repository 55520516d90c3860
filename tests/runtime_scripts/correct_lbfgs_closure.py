# expect: -
"""LBFGS with a closure that clears its gradients first."""
import torch
from torch import nn

from _tiny import batches, mlp

model = mlp()
optimizer = torch.optim.LBFGS(model.parameters(), lr=0.5, max_iter=4)
x, y = batches(1)[0]
for it in range(4):
    def closure():
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        return loss
    optimizer.step(closure)
