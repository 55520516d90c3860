"""OPT202 (buggy): StepLR(step_size=5) meant in epochs, stepped every batch (8 batches an epoch)."""
import torch
from torch import nn
from _common import make_loader, make_model

model = make_model()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=5, gamma=0.1)
loader = make_loader()
for epoch in range(3):
    for x, y in loader:
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        scheduler.step()
