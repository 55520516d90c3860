# expect: OPT202
"""Epochs counted by a while loop; the cosine schedule over 3 epochs is stepped per batch."""
import torch
from torch import nn

from _tiny import batches, mlp

model = mlp()
opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=3)
data = batches(6)
epoch = 0
while epoch < 3:
    for x, y in data:
        opt.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        opt.step()
        sched.step()
    epoch += 1
