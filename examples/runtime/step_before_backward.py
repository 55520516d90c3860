"""OPT103 (buggy): the step runs before this iteration's backward."""
import torch
from torch import nn
from _common import make_loader, make_model

model = make_model()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for x, y in make_loader():
    optimizer.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    optimizer.step()
    loss.backward()
