"""Correct: a GAN with two optimizers; the generator's backward also reaches the discriminator."""
import torch
from torch import nn

torch.manual_seed(0)
generator = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 8))
discriminator = nn.Sequential(nn.Linear(8, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))
opt_g = torch.optim.Adam(generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
opt_d = torch.optim.Adam(discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999))
bce = nn.BCEWithLogitsLoss()
for step in range(6):
    real = torch.randn(8, 8)
    fake = generator(torch.randn(8, 4))
    # discriminator: two backward passes accumulate into one step
    opt_d.zero_grad()
    bce(discriminator(real), torch.ones(8, 1)).backward()
    bce(discriminator(fake.detach()), torch.zeros(8, 1)).backward()
    opt_d.step()
    # generator: its backward flows through the discriminator too
    opt_g.zero_grad()
    bce(discriminator(fake), torch.ones(8, 1)).backward()
    opt_g.step()
