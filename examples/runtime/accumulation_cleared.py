"""OPT106 (buggy): gradient accumulation whose zero_grad runs every micro-batch."""
import torch
from torch import nn
from _common import make_loader, make_model

model = make_model()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
accumulation_steps = 4
for i, (x, y) in enumerate(make_loader()):
    optimizer.zero_grad()
    loss = nn.functional.mse_loss(model(x), y) / accumulation_steps
    loss.backward()
    if (i + 1) % accumulation_steps == 0:
        optimizer.step()
