# expect: -
"""A SAM-style wrapper optimizer: its group key rho is its own, its step calls the base
optimizer's step; two backward passes per update by design."""
import torch
from torch import nn

from _tiny import batches, mlp


class SAM(torch.optim.Optimizer):
    def __init__(self, params, base_optimizer, rho=0.05, **kwargs):
        super().__init__(params, dict(rho=rho, **kwargs))
        self.base_optimizer = base_optimizer(self.param_groups, **kwargs)
        self.param_groups = self.base_optimizer.param_groups

    @torch.no_grad()
    def first_step(self):
        for group in self.param_groups:
            norm = torch.norm(torch.stack([p.grad.norm() for p in group["params"] if p.grad is not None]))
            for p in group["params"]:
                if p.grad is None:
                    continue
                e = p.grad * group["rho"] / (norm + 1e-12)
                p.add_(e)
                self.state[p]["e"] = e
        self.zero_grad()

    @torch.no_grad()
    def second_step(self):
        for group in self.param_groups:
            for p in group["params"]:
                if "e" in self.state[p]:
                    p.sub_(self.state[p]["e"])
        self.base_optimizer.step()
        self.zero_grad()

    def step(self, closure=None):
        raise NotImplementedError("use first_step / second_step")


model = mlp()
optimizer = SAM(model.parameters(), torch.optim.SGD, rho=0.05, lr=0.1, momentum=0.9)
for x, y in batches(8):
    nn.functional.mse_loss(model(x), y).backward()
    optimizer.first_step()
    nn.functional.mse_loss(model(x), y).backward()
    optimizer.second_step()
