# expect: OPT401
"""The model is a local of a function that returns only the losses: groups forget the neck."""
import torch
from torch import nn

from _tiny import batches


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Linear(8, 16)
        self.neck = nn.Linear(16, 16)
        self.head = nn.Linear(16, 1)

    def forward(self, x):
        return self.head(torch.relu(self.neck(torch.relu(self.backbone(x)))))


def fit():
    net = Net()
    optimizer = torch.optim.AdamW([
        {"params": net.backbone.parameters(), "lr": 1e-4},
        {"params": net.head.parameters(), "lr": 1e-3},
    ])
    losses = []
    for x, y in batches(6):
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(net(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


print(fit()[-1])
