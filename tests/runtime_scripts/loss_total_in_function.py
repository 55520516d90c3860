# expect: OPT601
"""Inside a train_epoch() function, total = total + loss (the long spelling)."""
import torch
from torch import nn

from _tiny import loader, mlp


def train_epoch(model, data, optimizer):
    total = 0
    for x, y in data:
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        total = total + loss
    return total / len(data)


model = mlp()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
for epoch in range(2):
    print(float(train_epoch(model, loader(), optimizer)))
