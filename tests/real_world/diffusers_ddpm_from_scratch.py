# A DDPM training loop in the style of the diffusers "basic training" tutorial: the noise scheduler is named
# `scheduler` and its step() runs in the sampling loop; the lr scheduler is stepped per batch.
import torch
import torch.nn.functional as F
from diffusers import DDPMScheduler, UNet2DModel
from diffusers.optimization import get_cosine_schedule_with_warmup


def train(config, train_dataloader, device):
    model = UNet2DModel(sample_size=config.image_size, in_channels=3, out_channels=3)
    model.to(device)
    scheduler = DDPMScheduler(num_train_timesteps=1000)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate)
    lr_scheduler = get_cosine_schedule_with_warmup(
        optimizer=optimizer,
        num_warmup_steps=config.lr_warmup_steps,
        num_training_steps=(len(train_dataloader) * config.num_epochs),
    )
    for epoch in range(config.num_epochs):
        model.train()
        for step, batch in enumerate(train_dataloader):
            clean_images = batch["images"].to(device)
            noise = torch.randn(clean_images.shape, device=device)
            timesteps = torch.randint(0, scheduler.config.num_train_timesteps, (clean_images.shape[0],),
                                      device=device).long()
            noisy_images = scheduler.add_noise(clean_images, noise, timesteps)
            noise_pred = model(noisy_images, timesteps, return_dict=False)[0]
            loss = F.mse_loss(noise_pred, noise)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            lr_scheduler.step()
            optimizer.zero_grad()

        if (epoch + 1) % config.save_image_epochs == 0:
            model.eval()
            image = torch.randn((4, 3, config.image_size, config.image_size), device=device)
            scheduler.set_timesteps(50)
            for t in scheduler.timesteps:
                with torch.no_grad():
                    model_output = model(image, t).sample
                image = scheduler.step(model_output, t, image).prev_sample
