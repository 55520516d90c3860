# expect: OPT403
"""The no-decay group spells weight_decay wrong in a dict built before the optimizer: PyTorch
ignores the key, the biases get the default decay."""
import torch
from torch import nn

from _tiny import batches, mlp

model = mlp()
decay = [p for n, p in model.named_parameters() if n.endswith("weight")]
no_decay = [p for n, p in model.named_parameters() if n.endswith("bias")]
param_groups = [
    {"params": decay, "weight_decay": 0.01},
    {"params": no_decay, "weight_decays": 0.0},
]
optimizer = torch.optim.AdamW(param_groups, lr=1e-3)
for x, y in batches(3):
    optimizer.zero_grad()
    nn.functional.mse_loss(model(x), y).backward()
    optimizer.step()
