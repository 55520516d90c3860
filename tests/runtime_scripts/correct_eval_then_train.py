# expect: -
"""Twin of eval_left_after_validation: model.train() at the top of each epoch."""
import torch
from torch import nn

from _tiny import batches

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
train_data, val_data = batches(6), batches(2, seed=1)
for epoch in range(3):
    model.train()
    for x, y in train_data:
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        val = sum(nn.functional.mse_loss(model(x), y).item() for x, y in val_data)
