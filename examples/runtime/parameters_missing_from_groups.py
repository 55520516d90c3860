"""OPT401 (buggy): the groups cover the backbone and the head but forget the neck."""
import torch
from torch import nn
from _common import make_loader


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Linear(8, 16)
        self.neck = nn.Linear(16, 16)
        self.head = nn.Linear(16, 1)

    def forward(self, x):
        return self.head(torch.relu(self.neck(torch.relu(self.backbone(x)))))


torch.manual_seed(0)
model = Net()
optimizer = torch.optim.SGD([
    {"params": model.backbone.parameters(), "lr": 0.01},
    {"params": model.head.parameters()},
], lr=0.1)
for x, y in make_loader():
    optimizer.zero_grad()
    nn.functional.mse_loss(model(x), y).backward()
    optimizer.step()
