"""OPT203 (buggy): OneCycleLR sized in iterations but stepped once per epoch."""
import torch
from torch import nn
from _common import make_loader, make_model

model = make_model()
loader = make_loader()
epochs = 3
optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=epochs * len(loader))
for epoch in range(epochs):
    for x, y in loader:
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
    scheduler.step()
