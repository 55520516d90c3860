"""OPT303 (buggy): SGD(nesterov=True) without momentum raises ValueError at construction."""
import torch
from _common import make_model

model = make_model()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1, nesterov=True)
