# expect: OPT305
"""Meta-device initialisation done in the wrong order: to_empty() allocates new parameters
after the optimizer captured the meta ones."""
import torch
from torch import nn

from _tiny import batches

with torch.device("meta"):
    net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))
opt = torch.optim.Adam(net.parameters(), lr=1e-3)
net.to_empty(device="cpu")
for m in net.modules():
    if isinstance(m, nn.Linear):
        m.reset_parameters()
for x, y in batches():
    opt.zero_grad()
    nn.functional.mse_loss(net(x), y).backward()
    opt.step()
