"""OPT302 (buggy): Adam with weight_decay is coupled L2, not the decoupled decay of AdamW."""
import torch
from torch import nn
from _common import make_loader, make_model

model = make_model()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=0.01)
for x, y in make_loader():
    optimizer.zero_grad()
    nn.functional.mse_loss(model(x), y).backward()
    optimizer.step()
