# expect: OPT304
"""The trainable parameters are filtered by a generator expression that the optimizer reads to
the end; the value clip, given it by keyword, clips nothing."""
import torch
from torch import nn

from _tiny import batches, mlp

model = mlp()
model[0].requires_grad_(False)
trainable = (p for p in model.parameters() if p.requires_grad)
optimizer = torch.optim.Adam(trainable, lr=1e-3)
for x, y in batches(4):
    optimizer.zero_grad()
    (50 * nn.functional.mse_loss(model(x), y)).backward()
    nn.utils.clip_grad_value_(parameters=trainable, clip_value=0.5)
    optimizer.step()
