# expect: OPT305
"""A checkpoint loaded with assign=True after the optimizer was built: the module now holds
the checkpoint's tensors, the optimizer the old ones."""
import torch
from torch import nn

from _tiny import batches, mlp


def train():
    model = mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    state = {k: v.clone() for k, v in mlp(seed=1).state_dict().items()}
    model.load_state_dict(state, assign=True)
    for x, y in batches():
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()


train()
