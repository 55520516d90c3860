# expect: OPT202
"""One flat loop over a stream of batches keeps its own epoch counter (a pass over the data
ends every len(chunks) iterations); the StepLR sized in epochs is stepped on every batch."""
import torch
from torch import nn

from _tiny import batches, mlp

net = mlp(seed=3)
opt = torch.optim.SGD(net.parameters(), lr=0.1)
sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
chunks = batches(5)
epoch, it = 0, 0
while epoch < 4:
    inputs, targets = chunks[it % len(chunks)]
    opt.zero_grad()
    nn.functional.mse_loss(net(inputs), targets).backward()
    opt.step()
    sched.step()
    it += 1
    if it % len(chunks) == 0:
        epoch += 1
