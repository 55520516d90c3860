# Lightning docs "Manual Optimization": accumulation, clipping, schedulers stepped by hand, two optimizers.
import torch
from torch import nn
from torch.nn import functional as F
from lightning.pytorch import LightningModule


class AccumulatingModel(LightningModule):
    def __init__(self, model, n_accum=4):
        super().__init__()
        self.automatic_optimization = False
        self.model = model
        self.n_accum = n_accum

    def compute_loss(self, batch):
        x, y = batch
        return F.cross_entropy(self.model(x), y)

    def training_step(self, batch, batch_idx):
        opt = self.optimizers()

        # scale losses by 1/N (for N batches of gradient accumulation)
        loss = self.compute_loss(batch) / self.n_accum
        self.manual_backward(loss)

        # accumulate gradients of N batches
        if (batch_idx + 1) % self.n_accum == 0:
            self.clip_gradients(opt, gradient_clip_val=0.5, gradient_clip_algorithm="norm")
            opt.step()
            opt.zero_grad()

        # step every N epochs
        sch = self.lr_schedulers()
        if self.trainer.is_last_batch and (self.trainer.current_epoch + 1) % self.n_accum == 0:
            sch.step()

    def configure_optimizers(self):
        optimizer = torch.optim.SGD(self.model.parameters(), lr=0.1, momentum=0.9)
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
        return [optimizer], [scheduler]


class PlateauModel(LightningModule):
    def __init__(self, model):
        super().__init__()
        self.automatic_optimization = False
        self.model = model

    def training_step(self, batch, batch_idx):
        opt = self.optimizers()
        x, y = batch
        loss = F.mse_loss(self.model(x), y)
        opt.zero_grad()
        self.manual_backward(loss)
        opt.step()
        self.log("train_loss", loss)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", F.mse_loss(self.model(x), y))

    def on_train_epoch_end(self):
        sch = self.lr_schedulers()
        # If the selected scheduler is a ReduceLROnPlateau scheduler.
        if isinstance(sch, torch.optim.lr_scheduler.ReduceLROnPlateau):
            sch.step(self.trainer.callback_metrics["val_loss"])

    def configure_optimizers(self):
        optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        return {"optimizer": optimizer, "lr_scheduler": torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer)}


class SimpleGAN(LightningModule):
    def __init__(self, generator, discriminator, latent_dim=32):
        super().__init__()
        self.G = generator
        self.D = discriminator
        self.latent_dim = latent_dim
        # Important: This property activates manual optimization.
        self.automatic_optimization = False

    def sample_z(self, n):
        return torch.randn(n, self.latent_dim, device=self.device)

    def sample_G(self, n):
        z = self.sample_z(n)
        return self.G(z)

    def training_step(self, batch, batch_idx):
        # Implementation follows the PyTorch tutorial:
        # https://pytorch.org/tutorials/beginner/dcgan_faces_tutorial.html
        g_opt, d_opt = self.optimizers()

        X, _ = batch
        batch_size = X.shape[0]

        real_label = torch.ones((batch_size, 1), device=self.device)
        fake_label = torch.zeros((batch_size, 1), device=self.device)

        g_X = self.sample_G(batch_size)

        ##########################
        # Optimize Discriminator #
        ##########################
        d_x = self.D(X)
        errD_real = F.binary_cross_entropy_with_logits(d_x, real_label)

        d_z = self.D(g_X.detach())
        errD_fake = F.binary_cross_entropy_with_logits(d_z, fake_label)

        errD = errD_real + errD_fake

        d_opt.zero_grad()
        self.manual_backward(errD)
        d_opt.step()

        ######################
        # Optimize Generator #
        ######################
        d_z = self.D(g_X)
        errG = F.binary_cross_entropy_with_logits(d_z, real_label)

        g_opt.zero_grad()
        self.manual_backward(errG)
        g_opt.step()

        self.log_dict({"g_loss": errG, "d_loss": errD}, prog_bar=True)

    def configure_optimizers(self):
        g_opt = torch.optim.Adam(self.G.parameters(), lr=1e-5)
        d_opt = torch.optim.Adam(self.D.parameters(), lr=1e-5)
        return g_opt, d_opt
