# expect: -
"""rho is Adadelta's own coefficient: not a Keras name there."""
import torch
from torch import nn

from _tiny import batches, mlp

model = mlp()
optimizer = torch.optim.Adadelta([{"params": model.parameters(), "rho": 0.95}], lr=1.0)
for x, y in batches(3):
    optimizer.zero_grad()
    nn.functional.mse_loss(model(x), y).backward()
    optimizer.step()
