"""Correct: gradient accumulation over 4 micro-batches, cleared after each step; OneCycleLR per step."""
import torch
from torch import nn
from _common import make_loader, make_model

model = make_model()
loader = make_loader()
accumulation_steps = 4
optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1,
                                                total_steps=2 * len(loader) // accumulation_steps)
optimizer.zero_grad()
for epoch in range(2):
    for i, (x, y) in enumerate(loader):
        loss = nn.functional.mse_loss(model(x), y) / accumulation_steps
        loss.backward()
        if (i + 1) % accumulation_steps == 0:
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
