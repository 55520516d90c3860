"""Mixed-precision training: a per-epoch decay with gradient accumulation, then a
fine-tuning pass with clipping and a plateau schedule (synthetic harness input)."""
import torch
from torch.optim.lr_scheduler import StepLR, ReduceLROnPlateau


def train(model, loader, epochs, accum=4):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    decay = StepLR(optimizer, step_size=10)
    scaler = torch.cuda.amp.GradScaler()
    for epoch in range(epochs):
        for i, (x, y) in enumerate(loader):
            with torch.autocast("cuda"):
                loss = torch.nn.functional.mse_loss(model(x), y) / accum
            scaler.scale(loss).backward()
            if (i + 1) % accum == 0:
                scaler.step(optimizer)
                scaler.update()
                optimizer.zero_grad()
        decay.step()


def finetune(model, loader, evaluate, epochs):
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    plateau = ReduceLROnPlateau(opt)
    scaler = torch.cuda.amp.GradScaler()
    for epoch in range(epochs):
        for x, y in loader:
            for p in model.parameters():
                p.grad = None
            loss = model(x).sub(y).pow(2).mean()
            scaler.scale(loss).backward()
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            scaler.step(opt)
            scaler.update()
        val_loss = evaluate(model)
        plateau.step(val_loss)
