# expect: -
"""Twin of two_adams_one_unused: both optimizers step."""
import torch
from torch import nn

from _tiny import batches

torch.manual_seed(0)
generator, discriminator = nn.Linear(8, 8), nn.Linear(8, 1)
optimizer_g = torch.optim.Adam(generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
optimizer_d = torch.optim.Adam(discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999))
for x, _ in batches(6):
    optimizer_d.zero_grad()
    d_loss = discriminator(x).mean() - discriminator(generator(x).detach()).mean()
    d_loss.backward()
    optimizer_d.step()
    optimizer_g.zero_grad()
    g_loss = -discriminator(generator(x)).mean()
    g_loss.backward()
    optimizer_g.step()
