# expect: -
"""The twin of clip_value_exhausted_generator_kw: the filtered parameters are kept in a list,
so the optimizer and the value clip both see them."""
import torch
from torch import nn

from _tiny import batches, mlp

model = mlp()
model[0].requires_grad_(False)
trainable = [p for p in model.parameters() if p.requires_grad]
optimizer = torch.optim.Adam(trainable, lr=1e-3)
for x, y in batches(4):
    optimizer.zero_grad()
    (50 * nn.functional.mse_loss(model(x), y)).backward()
    nn.utils.clip_grad_value_(parameters=trainable, clip_value=0.5)
    optimizer.step()
