"""Correct training code that OPT1xx / OPT306 / OPT5xx must stay silent on (SPEC's lists,
plus shapes met in real projects). Each test is one realistic, correct program."""

from __future__ import annotations

from tests.conftest import codes_at

MINE = ["OPT1", "OPT306", "OPT5"]


def silent(src: str) -> None:
    assert codes_at(src, MINE) == []


# --------------------------------------------------------------------------- accumulation
def test_accumulation_step_and_clear_under_modulo():
    silent("""
    import torch
    from torch import nn

    model = nn.Linear(10, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loader = [(torch.randn(8, 10), torch.randn(8, 1)) for _ in range(32)]
    accumulation_steps = 4

    for i, (x, y) in enumerate(loader):
        loss = nn.functional.mse_loss(model(x), y) / accumulation_steps
        loss.backward()
        if (i + 1) % accumulation_steps == 0:
            optimizer.step()
            optimizer.zero_grad()
    """)


def test_accumulation_clear_at_window_start():
    silent("""
    import torch
    from torch import nn

    model = nn.Linear(10, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loader = [(torch.randn(8, 10), torch.randn(8, 1)) for _ in range(32)]
    accum = 4

    for step, (x, y) in enumerate(loader):
        if step % accum == 0:
            optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), y) / accum
        loss.backward()
        if (step + 1) % accum == 0:
            optimizer.step()
    """)


def test_accumulation_inner_micro_loop_then_step():
    silent("""
    import torch
    from torch import nn

    model = nn.Linear(10, 1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    gradient_accumulation_steps = 4
    micro_batches = [(torch.randn(2, 10), torch.randn(2, 1))] * gradient_accumulation_steps

    for it in range(1000):
        for micro_step in range(gradient_accumulation_steps):
            x, y = micro_batches[micro_step]
            loss = nn.functional.mse_loss(model(x), y)
            loss = loss / gradient_accumulation_steps
            loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    """)


def test_accumulation_step_or_last_batch():
    silent("""
    import torch


    def train_epoch(model, loader, optimizer, accum_iter):
        model.train()
        optimizer.zero_grad()
        for data_iter_step, (samples, targets) in enumerate(loader):
            loss = torch.nn.functional.cross_entropy(model(samples), targets)
            loss /= accum_iter
            loss.backward()
            if (data_iter_step + 1) % accum_iter == 0 or data_iter_step + 1 == len(loader):
                optimizer.step()
                optimizer.zero_grad()
    """)


# --------------------------------------------------------------------------- AMP / nanoGPT
def test_nanogpt_style_loop_with_grad_scaler():
    silent("""
    import torch
    from torch import nn

    model = nn.Linear(64, 64)
    optimizer = torch.optim.AdamW(model.parameters(), lr=6e-4, betas=(0.9, 0.95))
    scaler = torch.cuda.amp.GradScaler(enabled=True)
    ctx = torch.autocast("cuda", dtype=torch.float16)
    gradient_accumulation_steps = 8
    grad_clip = 1.0
    max_iters = 100


    def get_batch(split):
        return torch.randn(4, 64), torch.randn(4, 64)


    X, Y = get_batch("train")
    iter_num = 0
    while True:
        for micro_step in range(gradient_accumulation_steps):
            with ctx:
                logits = model(X)
                loss = nn.functional.mse_loss(logits, Y)
                loss = loss / gradient_accumulation_steps
            X, Y = get_batch("train")
            scaler.scale(loss).backward()
        if grad_clip != 0.0:
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)
        iter_num += 1
        if iter_num > max_iters:
            break
    """)


def test_clip_after_unscale():
    silent("""
    import torch
    from torch.nn.utils import clip_grad_norm_


    def train(model, loader, optimizer, scaler, max_norm=1.0):
        for inputs, labels in loader:
            optimizer.zero_grad()
            with torch.autocast("cuda"):
                loss = model(inputs, labels)
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
            clip_grad_norm_(model.parameters(), max_norm)
            scaler.step(optimizer)
            scaler.update()
    """)


# --------------------------------------------------------------------------- frameworks
def test_accelerate_accumulate_and_sync_gradients_clipping():
    silent("""
    import torch
    from accelerate import Accelerator

    accelerator = Accelerator(gradient_accumulation_steps=4)
    model = torch.nn.Linear(10, 2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-5)
    scheduler = torch.optim.lr_scheduler.LinearLR(optimizer)
    loader = [(torch.randn(4, 10), torch.randint(0, 2, (4,)))] * 8
    model, optimizer, loader, scheduler = accelerator.prepare(model, optimizer, loader, scheduler)

    for epoch in range(3):
        model.train()
        for x, y in loader:
            with accelerator.accumulate(model):
                loss = torch.nn.functional.cross_entropy(model(x), y)
                accelerator.backward(loss)
                if accelerator.sync_gradients:
                    accelerator.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
    """)


def test_deepspeed_engine_backward_and_step():
    silent("""
    import deepspeed
    import torch


    def train(args, model, loader):
        model_engine, optimizer, _, _ = deepspeed.initialize(
            args=args, model=model, model_parameters=model.parameters()
        )
        for step, batch in enumerate(loader):
            loss = model_engine(batch).mean()
            model_engine.backward(loss)
            model_engine.step()
    """)


def test_lightning_automatic_optimization():
    silent("""
    import lightning.pytorch as pl
    import torch
    from torch import nn


    class LitModel(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.layer = nn.Linear(28 * 28, 10)

        def training_step(self, batch, batch_idx):
            x, y = batch
            loss = nn.functional.cross_entropy(self.layer(x.view(x.size(0), -1)), y)
            self.log("train_loss", loss)
            return loss

        def configure_optimizers(self):
            optimizer = torch.optim.Adam(self.parameters(), lr=1e-3)
            scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1)
            return [optimizer], [scheduler]
    """)


def test_lightning_manual_optimization():
    silent("""
    import pytorch_lightning as pl
    import torch


    class GAN(pl.LightningModule):
        def __init__(self, generator, discriminator):
            super().__init__()
            self.automatic_optimization = False
            self.generator = generator
            self.discriminator = discriminator

        def training_step(self, batch, batch_idx):
            g_opt, d_opt = self.optimizers()
            z = torch.randn(batch.size(0), 100, device=self.device)

            g_loss = -self.discriminator(self.generator(z)).mean()
            g_opt.zero_grad()
            self.manual_backward(g_loss)
            g_opt.step()

            d_loss = self.discriminator(self.generator(z).detach()).mean() - self.discriminator(batch).mean()
            d_opt.zero_grad()
            self.manual_backward(d_loss)
            d_opt.step()

        def configure_optimizers(self):
            g = torch.optim.Adam(self.generator.parameters(), lr=2e-4)
            d = torch.optim.Adam(self.discriminator.parameters(), lr=2e-4)
            return g, d
    """)


def test_lightning_manual_single_optimizer_with_accumulation():
    silent("""
    import lightning as L


    class Model(L.LightningModule):
        def __init__(self, net):
            super().__init__()
            self.net = net
            self.automatic_optimization = False

        def training_step(self, batch, batch_idx):
            opt = self.optimizers()
            loss = self.net(batch).mean() / 2
            self.manual_backward(loss)
            if (batch_idx + 1) % 2 == 0:
                opt.step()
                opt.zero_grad()
    """)


# --------------------------------------------------------------------------- closures
def test_lbfgs_closure():
    silent("""
    import torch
    from torch import nn

    model = nn.Linear(3, 1)
    optimizer = torch.optim.LBFGS(model.parameters(), lr=1, max_iter=20, history_size=10)
    x, y = torch.randn(100, 3), torch.randn(100, 1)

    for epoch in range(20):
        def closure():
            optimizer.zero_grad()
            loss = nn.functional.mse_loss(model(x), y)
            loss.backward()
            return loss

        optimizer.step(closure)
    """)


def test_sgd_step_with_closure_lambda():
    silent("""
    import torch

    w = torch.randn(5, requires_grad=True)
    opt = torch.optim.SGD([w], lr=0.01)


    def closure():
        opt.zero_grad()
        loss = (w ** 2).sum()
        loss.backward()
        return loss


    for _ in range(10):
        loss = opt.step(closure)
    """)


# --------------------------------------------------------------------------- GANs / RL
def test_wgan_gp_gradient_penalty_and_n_critic():
    silent("""
    import torch
    from torch import autograd, nn

    G = nn.Sequential(nn.Linear(100, 784), nn.Tanh())
    D = nn.Sequential(nn.Linear(784, 1))
    opt_G = torch.optim.Adam(G.parameters(), lr=1e-4, betas=(0.0, 0.9))
    opt_D = torch.optim.Adam(D.parameters(), lr=1e-4, betas=(0.0, 0.9))
    n_critic, lambda_gp = 5, 10.0
    loader = [torch.randn(64, 784) for _ in range(10)]


    def gradient_penalty(D, real, fake):
        alpha = torch.rand(real.size(0), 1)
        interp = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
        out = D(interp)
        grads = autograd.grad(outputs=out, inputs=interp, grad_outputs=torch.ones_like(out),
                              create_graph=True, retain_graph=True)[0]
        return ((grads.norm(2, dim=1) - 1) ** 2).mean()


    for epoch in range(10):
        for i, real in enumerate(loader):
            for _ in range(n_critic):
                opt_D.zero_grad()
                z = torch.randn(real.size(0), 100)
                fake = G(z).detach()
                d_loss = D(fake).mean() - D(real).mean() + lambda_gp * gradient_penalty(D, real, fake)
                d_loss.backward()
                opt_D.step()
            opt_G.zero_grad()
            g_loss = -D(G(torch.randn(real.size(0), 100))).mean()
            g_loss.backward()
            opt_G.step()
    """)


def test_actor_critic_two_optimizers_each_cleared():
    silent("""
    import torch
    from torch import nn

    actor = nn.Linear(4, 2)
    critic = nn.Linear(4, 1)
    actor_optimizer = torch.optim.Adam(actor.parameters(), lr=3e-4)
    critic_optimizer = torch.optim.Adam(critic.parameters(), lr=1e-3)

    for episode in range(100):
        states = torch.randn(32, 4)
        returns = torch.randn(32, 1)
        values = critic(states)
        advantage = (returns - values).detach()
        critic_loss = (returns - values).pow(2).mean()
        critic_optimizer.zero_grad()
        critic_loss.backward()
        critic_optimizer.step()

        log_probs = torch.log_softmax(actor(states), dim=-1)[:, 0:1]
        actor_loss = -(log_probs * advantage).mean()
        actor_optimizer.zero_grad()
        actor_loss.backward()
        actor_optimizer.step()
    """)


# --------------------------------------------------------------------------- manual / misc
def test_manual_sgd_with_model_zero_grad():
    silent("""
    import torch
    from torch import nn

    model = nn.Linear(10, 1)
    lr = 0.01
    for x, y in [(torch.randn(8, 10), torch.randn(8, 1))] * 10:
        model.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        with torch.no_grad():
            for p in model.parameters():
                p.data -= lr * p.grad
    """)


def test_manual_sgd_grad_zero_in_place():
    silent("""
    import torch

    w = torch.randn(3, requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    for epoch in range(100):
        loss = ((w.sum() + b) - 1.0).pow(2).sum()
        loss.backward()
        with torch.no_grad():
            w -= 0.1 * w.grad
            b -= 0.1 * b.grad
            w.grad.zero_()
            b.grad.zero_()
    """)


def test_clearing_at_the_end_of_the_body():
    silent("""
    import torch


    def train(model, loader, optimizer, epochs=1):
        for epoch in range(epochs):
            for x, y in loader:
                loss = torch.nn.functional.mse_loss(model(x), y)
                loss.backward()
                optimizer.step()
                optimizer.zero_grad()
    """)


def test_ema_update_under_no_grad():
    silent("""
    import copy

    import torch


    def train(model, loader, optimizer, decay=0.999):
        ema = copy.deepcopy(model)
        for x, y in loader:
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                for ema_p, p in zip(ema.parameters(), model.parameters()):
                    ema_p.mul_(decay).add_(p.detach(), alpha=1 - decay)
        return ema
    """)


def test_multiple_backward_with_retain_graph_before_one_step():
    silent("""
    import torch
    from torch import nn

    model = nn.Linear(10, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for x, y in [(torch.randn(4, 10), torch.randint(0, 2, (4,)))] * 10:
        optimizer.zero_grad()
        out = model(x)
        loss_a = nn.functional.cross_entropy(out, y)
        loss_b = out.pow(2).mean()
        loss_a.backward(retain_graph=True)
        loss_b.backward()
        optimizer.step()
    """)


def test_train_step_helper_called_from_loop_clears_inside():
    silent("""
    import torch


    def train_step(model, batch, optimizer):
        optimizer.zero_grad()
        x, y = batch
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        return loss.item()


    def main(model, loader):
        optimizer = torch.optim.Adam(model.parameters())
        for epoch in range(10):
            for batch in loader:
                train_step(model, batch, optimizer)
    """)


def test_zero_grad_in_finally():
    silent("""
    import torch


    def train(model, loader, optimizer):
        for x, y in loader:
            try:
                loss = torch.nn.functional.mse_loss(model(x), y)
                loss.backward()
                optimizer.step()
            finally:
                optimizer.zero_grad()
    """)


def test_trainer_class_zero_grad_in_another_method():
    silent("""
    import torch


    class Trainer:
        def __init__(self, model, loader, lr=1e-3):
            self.model = model
            self.loader = loader
            self.optimizer = torch.optim.Adam(model.parameters(), lr=lr)

        def _zero_grad(self):
            self.optimizer.zero_grad(set_to_none=True)

        def train(self, epochs):
            for epoch in range(epochs):
                for x, y in self.loader:
                    self._zero_grad()
                    loss = torch.nn.functional.cross_entropy(self.model(x), y)
                    loss.backward()
                    self.optimizer.step()
    """)


def test_trainer_class_optimizer_step_in_helper_method():
    silent("""
    import torch


    class Trainer:
        def __init__(self, model, optimizer, scaler=None):
            self.model = model
            self.optimizer = optimizer
            self.scaler = scaler or torch.amp.GradScaler()

        def optimizer_step(self):
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), 10.0)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.optimizer.zero_grad()

        def fit(self, loader):
            for x, y in loader:
                loss = self.model(x, y)
                self.scaler.scale(loss).backward()
                self.optimizer_step()
    """)


def test_set_grad_to_none_loop():
    silent("""
    import torch


    def train(model, loader, optimizer):
        for x, y in loader:
            for p in model.parameters():
                p.grad = None
            loss = torch.nn.functional.mse_loss(model(x), y)
            loss.backward()
            optimizer.step()
    """)


def test_noise_scheduler_step_is_not_an_optimizer():
    silent("""
    import torch
    from diffusers import DDPMScheduler

    noise_scheduler = DDPMScheduler(num_train_timesteps=1000)


    def sample(unet, latents):
        for t in noise_scheduler.timesteps:
            with torch.no_grad():
                noise_pred = unet(latents, t).sample
            latents = noise_scheduler.step(noise_pred, t, latents).prev_sample
        return latents
    """)


def test_non_torch_optimizers_are_never_flagged():
    silent("""
    import optax
    import tensorflow as tf

    tf_opt = tf.keras.optimizers.Adam(learning_rate=1e-3)
    jax_opt = optax.adam(1e-3)

    for x, y in [(1, 2)]:
        with tf.GradientTape() as tape:
            loss = x * y
        grads = tape.gradient(loss, [])
        tf_opt.apply_gradients(zip(grads, []))
    """)


def test_sanity_guarded_step_is_not_a_window():
    silent("""
    import torch


    def train(model, loader, optimizer, max_norm=1.0):
        for x, y in loader:
            optimizer.zero_grad()
            loss = torch.nn.functional.mse_loss(model(x), y)
            loss.backward()
            norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
            if torch.isfinite(norm):
                optimizer.step()
    """)


# --------------------------------------------------------------------------- from the sweep
def test_clearing_through_a_function_named_zero_grads():
    # pyro.contrib.oed: gradients cleared by ``pyro.infer.util.zero_grads(params)``
    silent("""
    import pyro


    def optimise(design, loss_fn, num_steps, optim):
        params = None
        for step in range(num_steps):
            if params is not None:
                pyro.infer.util.zero_grads(params)
            loss = loss_fn(design)
            params = set(loss.parameters())
            loss.backward(retain_graph=True)
            optim.step()
    """)


def test_optimizer_called_with_the_parameters():
    # a pyro-style optimizer object is called on the parameters: it may do anything to them
    silent("""
    def optimise(design, loss_fn, num_steps, optim):
        for step in range(num_steps):
            loss, params = loss_fn(design)
            loss.backward()
            optim(params)
            optim.step()
    """)


def test_optimizers_cleared_in_a_loop_over_them():
    silent("""
    import torch
    from torch import nn

    encoder, decoder = nn.Linear(8, 4), nn.Linear(4, 8)
    enc_opt = torch.optim.Adam(encoder.parameters())
    dec_opt = torch.optim.Adam(decoder.parameters())
    for x in [torch.randn(2, 8)] * 10:
        for o in (enc_opt, dec_opt):
            o.zero_grad()
        loss = (decoder(encoder(x)) - x).pow(2).mean()
        loss.backward()
        enc_opt.step()
        dec_opt.step()
    """)


def test_ddp_no_sync_accumulation():
    silent("""
    import torch


    def train(model, loader, optimizer, accum=4):
        for i, batch in enumerate(loader):
            if (i + 1) % accum != 0:
                with model.no_sync():
                    loss = model(batch).mean() / accum
                    loss.backward()
            else:
                loss = model(batch).mean() / accum
                loss.backward()
                optimizer.step()
                optimizer.zero_grad()
    """)


def test_hugging_face_tutorial_loop():
    silent("""
    import torch
    from torch.optim import AdamW
    from transformers import AutoModelForSequenceClassification, get_scheduler

    model = AutoModelForSequenceClassification.from_pretrained("bert-base-cased", num_labels=5)
    optimizer = AdamW(model.parameters(), lr=5e-5)
    num_epochs = 3
    train_dataloader = []
    lr_scheduler = get_scheduler("linear", optimizer=optimizer, num_warmup_steps=0,
                                 num_training_steps=num_epochs * len(train_dataloader))
    model.train()
    for epoch in range(num_epochs):
        for batch in train_dataloader:
            batch = {k: v.to("cuda") for k, v in batch.items()}
            outputs = model(**batch)
            loss = outputs.loss
            loss.backward()
            optimizer.step()
            lr_scheduler.step()
            optimizer.zero_grad()
    """)


def test_generator_updated_every_n_critic_iterations():
    # the modulo guards the generator's update, not an accumulation window
    silent("""
    import torch
    from torch import nn

    G, D = nn.Linear(16, 32), nn.Linear(32, 1)
    opt_g = torch.optim.RMSprop(G.parameters(), lr=5e-5)
    opt_d = torch.optim.RMSprop(D.parameters(), lr=5e-5)
    n_critic = 5

    for i, real in enumerate([torch.randn(8, 32)] * 100):
        opt_d.zero_grad()
        fake = G(torch.randn(8, 16)).detach()
        d_loss = D(fake).mean() - D(real).mean()
        d_loss.backward()
        opt_d.step()
        for p in D.parameters():
            p.data.clamp_(-0.01, 0.01)
        if i % n_critic == 0:
            opt_g.zero_grad()
            g_loss = -D(G(torch.randn(8, 16))).mean()
            g_loss.backward()
            opt_g.step()
    """)


def test_retry_loop_that_breaks_after_one_step():
    # the loop retries one step after an out-of-memory error; it is not a training loop
    silent("""
    import torch


    def train_step(model, batch, optimizer):
        for attempt in range(3):
            try:
                loss = model(batch).mean()
                loss.backward()
                optimizer.step()
                break
            except torch.cuda.OutOfMemoryError:
                torch.cuda.empty_cache()
    """)


def test_optimizer_built_inside_the_loop():
    # a fresh perturbation and optimizer per batch (adversarial training / test-time tuning)
    silent("""
    import torch


    def attack(model, loader, eps=0.03, steps=10):
        for x, y in loader:
            delta = torch.zeros_like(x, requires_grad=True)
            opt = torch.optim.SGD([delta], lr=0.01)
            loss = -torch.nn.functional.cross_entropy(model(x + delta), y)
            loss.backward()
            opt.step()
    """)


def test_amp_switch_in_two_separate_ifs():
    silent("""
    import torch


    def train(model, loader, optimizer, use_amp=True):
        scaler = torch.amp.GradScaler(enabled=use_amp)
        for x, y in loader:
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x), y)
            if use_amp:
                scaler.scale(loss).backward()
            else:
                loss.backward()
            if use_amp:
                scaler.step(optimizer)
                scaler.update()
            else:
                optimizer.step()
    """)


def test_scaler_steps_each_optimizer_update_by_caller():
    silent("""
    import torch


    class MultiOptimizer:
        def __init__(self, optimizers, scaler: torch.amp.GradScaler):
            self.optimizers = optimizers
            self.scaler = scaler

        def step(self):
            for opt in self.optimizers:
                self.scaler.step(opt)
    """)


def test_lightning_manual_optimization_declared_on_the_class():
    silent("""
    import lightning as L
    import torch


    class Model(L.LightningModule):
        automatic_optimization = False

        def __init__(self, net):
            super().__init__()
            self.net = net

        def training_step(self, batch, batch_idx):
            opt = self.optimizers()
            opt.zero_grad()
            loss = self.net(batch).mean()
            self.manual_backward(loss)
            torch.nn.utils.clip_grad_norm_(self.net.parameters(), 1.0)
            opt.step()
    """)


def test_from_scratch_network_with_its_own_backward_and_optimizer():
    silent("""
    import numpy as np


    class SGD:
        def __init__(self, layers, lr):
            self.layers, self.lr = layers, lr

        def step(self):
            for layer in self.layers:
                layer.w -= self.lr * layer.dw
                layer.dw = np.zeros_like(layer.dw)


    class Network:
        def __init__(self, layers):
            self.layers = layers
            self.optimizer = SGD(layers, 0.1)

        def forward(self, x, y):
            for layer in self.layers:
                x = layer(x)
            return x

        def backward(self):
            for layer in reversed(self.layers):
                layer.backprop()

        def fit(self, x, y, epochs):
            for _ in range(epochs):
                self.forward(x, y)
                self.backward()
                self.optimizer.step()
    """)


def test_grad_norm_measured_after_the_step_with_infinite_max_norm():
    silent("""
    import math

    import torch


    def train(model, loader, optimizer, log):
        for x, y in loader:
            optimizer.zero_grad()
            torch.nn.functional.mse_loss(model(x), y).backward()
            optimizer.step()
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=math.inf)
            log(grad_norm)
    """)


def test_unit_test_of_zero_grad_without_step():
    silent("""
    import torch


    def test_zero_grad_sets_none():
        model = torch.nn.Linear(3, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        model(torch.randn(2, 3)).sum().backward()
        opt.zero_grad()
        assert all(p.grad is None for p in model.parameters())
    """)


def test_unit_test_stepping_before_any_gradient():
    silent("""
    import torch


    def test_step_without_grad_is_a_no_op():
        w = torch.nn.Parameter(torch.ones(3))
        opt = torch.optim.Adam([w], lr=0.1)
        opt.step()
        assert torch.equal(w, torch.ones(3))
        (w * 2).sum().backward()
        opt.step()
        assert not torch.equal(w, torch.ones(3))
    """)


def test_optimizer_used_only_to_clear_while_reading_gradients():
    # EWC's Fisher information: an optimizer (lr=0) is a convenient way to clear
    silent("""
    import torch


    def fisher_diagonal(model, loader):
        opt = torch.optim.SGD(model.parameters(), lr=0.0)
        fisher = [torch.zeros_like(p) for p in model.parameters()]
        for x, y in loader:
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            for f, p in zip(fisher, model.parameters()):
                f += p.grad.detach() ** 2
        return fisher
    """)


def test_unscaled_second_stage_after_a_scaled_first_stage():
    silent("""
    import torch


    def train(backbone, probe, loader, opt_backbone, opt_probe):
        scaler = torch.amp.GradScaler()
        for x, y in loader:
            opt_backbone.zero_grad()
            with torch.autocast("cuda"):
                feats = backbone(x)
                loss = feats.pow(2).mean()
            scaler.scale(loss).backward()
            scaler.step(opt_backbone)
            scaler.update()

            opt_probe.zero_grad()
            probe_loss = torch.nn.functional.cross_entropy(probe(feats.detach().float()), y)
            probe_loss.backward()
            opt_probe.step()
    """)


def test_model_called_with_the_optimizer():
    # a wrapper module whose forward runs the whole update (clears, steps) when given the optimizer
    silent("""
    def train(model, loader, optimizer):
        for x, y in loader:
            loss = model(x, y, optimizer=optimizer)
            loss.backward()
            optimizer.step()
    """)


def test_gradients_rebuilt_by_hand_after_clearing():
    # gradient surgery: keep the gradients, clear, write a projected gradient back, step
    silent("""
    import torch


    def train(model, loader, optimizer):
        for x, y in loader:
            loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            saved = [p.grad.clone() for p in model.parameters()]
            optimizer.zero_grad()
            for p, g in zip(model.parameters(), saved):
                p.grad = g / (g.norm() + 1e-6)
            optimizer.step()
    """)


def test_manual_accumulation_into_buffers():
    silent("""
    import torch


    def train(model, loader, optimizer, k=4):
        buffers = [torch.zeros_like(p) for p in model.parameters()]
        for i, (x, y) in enumerate(loader):
            optimizer.zero_grad()
            torch.nn.functional.mse_loss(model(x), y).backward()
            for b, p in zip(buffers, model.parameters()):
                b.add_(p.grad, alpha=1 / k)
            if (i + 1) % k == 0:
                for b, p in zip(buffers, model.parameters()):
                    p.grad = b.clone()
                    b.zero_()
                optimizer.step()
    """)


def test_loss_scaled_by_a_helper_given_the_scaler():
    silent("""
    import torch

    from mylib.amp import scale_loss


    def train(model, loader, optimizer):
        scaler = torch.amp.GradScaler()
        for x in loader:
            optimizer.zero_grad()
            scaled = scale_loss(model(x).mean(), scaler)
            scaled.backward()
            scaler.step(optimizer)
            scaler.update()
    """)


def test_disabled_scaler_step_after_plain_backward():
    silent("""
    import torch


    def train(model, loader, optimizer):
        scaler = torch.amp.GradScaler(enabled=False)
        for x in loader:
            optimizer.zero_grad()
            model(x).mean().backward()
            scaler.step(optimizer)
            scaler.update()
    """)


def test_unscale_then_guarded_plain_step():
    silent("""
    import torch


    def train(model, loader, optimizer):
        scaler = torch.amp.GradScaler()
        for x in loader:
            optimizer.zero_grad()
            scaler.scale(model(x).mean()).backward()
            scaler.unscale_(optimizer)
            norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            if torch.isfinite(norm):
                optimizer.step()
            scaler.update()
    """)


def test_multi_task_losses_summed_in_an_inner_loop():
    silent("""
    import torch


    def train(model, heads, loader, optimizer, num_tasks=3):
        for x, targets in loader:
            optimizer.zero_grad()
            feats = model(x)
            for t in range(num_tasks):
                loss = torch.nn.functional.mse_loss(heads[t](feats), targets[t])
                loss.backward(retain_graph=True)
            optimizer.step()
    """)


def test_paddle_and_tensorflow_optimizers_named_optimizer():
    silent("""
    import paddle
    import tensorflow as tf

    optimizer = paddle.optimizer.Adam(parameters=model.parameters())
    for x in loader:
        loss = model(x).mean()
        loss.backward()
        optimizer.step()


    def tf_train(model, data):
        optimizer = tf.keras.optimizers.Adam(learning_rate=1e-3)
        for x in data:
            optimizer.step()
    """)
