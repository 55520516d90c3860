# expect: -
"""Twin of scaler_bypassed_in_function: scaler.step, unscale before clipping."""
import torch
from torch import nn

from _tiny import batches, mlp


def train_step(model, optimizer, scaler, x, y):
    optimizer.zero_grad()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = nn.functional.mse_loss(model(x).float(), y)
    scaler.scale(loss).backward()
    scaler.unscale_(optimizer)
    nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    scaler.step(optimizer)
    scaler.update()


model = mlp()
optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
scaler = torch.amp.GradScaler("cpu")
for x, y in batches():
    train_step(model, optimizer, scaler, x, y)
