"""OPT304 (buggy): the .parameters() generator is consumed by the first loop, the optimizer gets nothing."""
import torch
from _common import make_model

model = make_model()
params = model.parameters()
n_params = sum(p.numel() for p in params)
print(f"{n_params} parameters")
optimizer = torch.optim.SGD(params, lr=0.1)
