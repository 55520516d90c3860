# Composite of correct parameter-group shapes met in real code (not one script): a backbone run under
# no_grad (linear probing) left out of the groups, a MoCo key encoder updated by momentum, a detached encoder.
import copy
import torch
from torch import nn


class LinearProbe(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(8, 8), nn.ReLU())
        self.neck = nn.Linear(8, 8)
        self.head = nn.Linear(8, 2)

    def forward(self, x):
        with torch.no_grad():
            f = self.backbone(x)
        return self.head(self.neck(f))


class MoCo(nn.Module):
    def __init__(self, dim=8, m=0.999):
        super().__init__()
        self.m = m
        self.encoder_q = nn.Linear(8, dim)
        self.encoder_k = copy.deepcopy(self.encoder_q)
        self.predictor = nn.Linear(dim, dim)

    @torch.no_grad()
    def _momentum_update_key_encoder(self):
        for param_q, param_k in zip(self.encoder_q.parameters(), self.encoder_k.parameters()):
            param_k.data = param_k.data * self.m + param_q.data * (1.0 - self.m)

    def forward(self, im_q, im_k):
        q = self.predictor(self.encoder_q(im_q))
        with torch.no_grad():
            self._momentum_update_key_encoder()
            k = self.encoder_k(im_k)
        return (q * k).sum()


class Detached(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Linear(8, 8)
        self.decoder = nn.Linear(8, 8)

    def forward(self, x):
        z = self.encoder(x).detach()
        return self.decoder(z)


probe = LinearProbe()
opt1 = torch.optim.SGD([{"params": probe.neck.parameters(), "lr": 1e-2}, {"params": probe.head.parameters()}], lr=0.1)
moco = MoCo()
opt2 = torch.optim.SGD([{"params": moco.encoder_q.parameters()}, {"params": moco.predictor.parameters(), "lr": 0.2}], lr=0.1)
det = Detached()
opt3 = torch.optim.Adam([{"params": det.decoder.parameters(), "lr": 1e-3}])
