# expect: OPT101
"""An SGD step with a closure that forgets to clear: the closure is followed, not skipped."""
import torch
from torch import nn

from _tiny import batches, mlp

model = mlp()
optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
for x, y in batches():
    def closure():
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        return loss
    optimizer.step(closure)
