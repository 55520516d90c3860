"""OPT402 (buggy): the head's parameters are in both groups (ValueError at construction)."""
import torch
from _common import make_model

model = make_model()
optimizer = torch.optim.SGD([
    {"params": model.parameters()},
    {"params": model[2].parameters(), "lr": 1e-3},
], lr=0.1)
