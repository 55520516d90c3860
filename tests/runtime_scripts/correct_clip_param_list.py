# expect: -
"""Twin of clip_exhausted_generator: the parameters are kept in a list."""
import torch
from torch import nn

from _tiny import batches, mlp

model = mlp()
params = list(model.parameters())
optimizer = torch.optim.SGD(params, lr=0.1)
for x, y in batches():
    optimizer.zero_grad()
    (100 * nn.functional.mse_loss(model(x), y)).backward()
    nn.utils.clip_grad_norm_(params, max_norm=1.0)
    optimizer.step()
