# expect: -
"""A plain .to()/.double() after building the optimizer keeps the Parameter objects: fine."""
import torch
from torch import nn

from _tiny import batches, mlp

model = mlp()
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
model.to("cpu")
model.double()
for x, y in batches():
    optimizer.zero_grad()
    nn.functional.mse_loss(model(x.double()), y.double()).backward()
    optimizer.step()
