# expect: OPT202
"""The per-batch helper steps an ExponentialLR sized in epochs; epochs are a for loop over a
counter in main()."""
import torch
from torch import nn

from _tiny import batches, mlp


def train_step(model, opt, sched, x, y):
    opt.zero_grad()
    nn.functional.mse_loss(model(x), y).backward()
    opt.step()
    sched.step()


def main():
    model = mlp()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.7)
    data = batches(8)
    for epoch in range(3):
        for x, y in data:
            train_step(model, opt, sched, x, y)


main()
