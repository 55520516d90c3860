"""OPT102 (buggy): the gradients are cleared between backward and step, so the step sees nothing."""
import torch
from torch import nn
from _common import make_loader, make_model

model = make_model()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for x, y in make_loader():
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    optimizer.zero_grad()
    optimizer.step()
