# expect: OPT501
"""A train_step() that scales the loss but calls optimizer.step() directly."""
import torch
from torch import nn

from _tiny import batches, mlp


def train_step(model, optimizer, scaler, x, y):
    optimizer.zero_grad()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = nn.functional.mse_loss(model(x).float(), y)
    scaler.scale(loss).backward()
    optimizer.step()
    scaler.update()


model = mlp()
optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
scaler = torch.amp.GradScaler("cpu")
for x, y in batches():
    train_step(model, optimizer, scaler, x, y)
