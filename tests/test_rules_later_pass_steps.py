"""OPT103 where the optimizer is stepped again later in the iteration, in a pass of its own
(issue 13): a GAN's generator step moved before its backward, while an auxiliary pass under a
flag clears, backpropagates and steps the generator again. That later step never applies the
moved step's backward (it is cleared first), so the moved step still uses stale gradients.
Without the clearing, the later step does apply the backward: silent, as before."""

from __future__ import annotations

import pytest

from tests.conftest import codes_at

GAN = """\
import torch
from torch import nn


def fit(generator, discriminator, loader, use_aux, epochs=10):
    opt_g = torch.optim.Adam(generator.parameters(), lr=2e-4)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=2e-4)
    for epoch in range(epochs):
        for real, z in loader:
            opt_d.zero_grad()
            d_loss = -(discriminator(real).mean() - discriminator(generator(z).detach()).mean())
            d_loss.backward()
            opt_d.step()

            opt_g.zero_grad()
            fake = generator(z)
{before}            g_loss = -discriminator(fake).mean()
            g_loss.backward()
{after}            if use_aux:
{aux_clear}                aux_loss = fake.pow(2).mean()
                aux_loss.backward()
                opt_g.step()
"""

STEP = "            opt_g.step()\n"
AUX_CLEAR = "                opt_g.zero_grad()\n"


def test_opt103_the_generator_step_before_its_backward_with_a_later_pass_of_its_own():
    source = GAN.format(before=STEP, after="", aux_clear=AUX_CLEAR)
    assert codes_at(source, ["OPT103"]) == [("OPT103", 17)]


@pytest.mark.parametrize("before, after, aux_clear", [
    ("", STEP, AUX_CLEAR),  # the step after its backward
    (STEP, "", ""),  # the later step, not cleared first, applies the backward
])
def test_opt103_silent(before, after, aux_clear):
    assert codes_at(GAN.format(before=before, after=after, aux_clear=aux_clear), ["OPT103"]) == []
