# expect: -
"""The twin of epoch_sched_per_batch_while_true: the MultiStepLR steps once per epoch, after
the batch loop of a `while True` with a counter and a break."""
import torch
from torch import nn

from _tiny import batches, mlp

net = mlp(width=12)
sgd = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
decay = torch.optim.lr_scheduler.MultiStepLR(sgd, milestones=[2, 3], gamma=0.1)
chunks = batches(7)
epoch = 0
while True:
    for inputs, targets in chunks:
        sgd.zero_grad()
        nn.functional.l1_loss(net(inputs), targets).backward()
        sgd.step()
    decay.step()
    epoch += 1
    if epoch == 4:
        break
