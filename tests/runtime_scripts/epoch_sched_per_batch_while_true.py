# expect: OPT202
"""`while True` over epochs with a counter and a break; the MultiStepLR milestones count epochs
but the scheduler is stepped inside the batch loop."""
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
