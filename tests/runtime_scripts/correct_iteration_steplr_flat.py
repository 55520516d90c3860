# expect: -
"""A flat loop over iterations (no epochs): StepLR(step_size=10) counts iterations."""
import torch
from torch import nn

from _tiny import batches, mlp

model = mlp()
opt = torch.optim.SGD(model.parameters(), lr=0.1)
sched = torch.optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.5)
data = batches(8)
for it in range(40):
    x, y = data[it % len(data)]
    opt.zero_grad()
    nn.functional.mse_loss(model(x), y).backward()
    opt.step()
    sched.step()
