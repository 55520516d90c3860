# expect: -
"""Twin of groups_miss_module_local: every submodule is in a group."""
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
        {"params": list(net.neck.parameters()) + list(net.head.parameters()), "lr": 1e-3},
    ])
    for x, y in batches(6):
        optimizer.zero_grad()
        nn.functional.mse_loss(net(x), y).backward()
        optimizer.step()


fit()
