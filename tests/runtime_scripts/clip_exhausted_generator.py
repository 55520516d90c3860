# expect: OPT304
"""params = model.parameters() feeds the optimizer, then the clip: the generator is empty by
then and nothing is clipped."""
import torch
from torch import nn

from _tiny import batches, mlp

model = mlp()
params = model.parameters()
optimizer = torch.optim.SGD(params, lr=0.1)
for x, y in batches():
    optimizer.zero_grad()
    (100 * nn.functional.mse_loss(model(x), y)).backward()
    nn.utils.clip_grad_norm_(params, max_norm=1.0)
    optimizer.step()
