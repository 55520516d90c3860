# expect: -
"""The twin of epoch_sched_per_batch_flat_counter: in the same flat loop the StepLR steps
when the epoch counter moves on, once per pass over the data."""
import torch
from torch import nn

from _tiny import batches, mlp

net = mlp(seed=3)
opt = torch.optim.SGD(net.parameters(), lr=0.1)
sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
chunks = batches(5)
epoch, it = 0, 0
epoch_loss = 0.0
while epoch < 4:
    inputs, targets = chunks[it % len(chunks)]
    opt.zero_grad()
    loss = nn.functional.mse_loss(net(inputs), targets)
    loss.backward()
    opt.step()
    epoch_loss += loss.item()
    it += 1
    if it % len(chunks) == 0:
        epoch += 1
        epoch_loss = 0.0
        sched.step()
