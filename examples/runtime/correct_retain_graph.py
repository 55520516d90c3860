"""Correct: two losses backpropagated with retain_graph before one step; a frozen-BN fine-tune."""
import torch
from torch import nn
from _common import make_loader

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
model.train()
model[1].eval()  # frozen batch-norm statistics, trainable affine
for x, y in make_loader():
    optimizer.zero_grad()
    out = model(x)
    nn.functional.mse_loss(out, y).backward(retain_graph=True)
    (0.1 * out.abs().mean()).backward()
    optimizer.step()
