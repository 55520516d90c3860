# expect: OPT603
"""Validation switches the model to eval mode and the next epochs train in it (dropout off,
BatchNorm frozen)."""
import torch
from torch import nn

from _tiny import batches

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
train_data, val_data = batches(6), batches(2, seed=1)
model.train()
for epoch in range(3):
    for x, y in train_data:
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        val = sum(nn.functional.mse_loss(model(x), y).item() for x, y in val_data)
