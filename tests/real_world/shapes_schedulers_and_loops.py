# Composite of correct scheduler/loop shapes met in real code (not one script): iteration milestones stepped
# per batch, guarded epoch-head step, warm restarts with fractional epochs, plateau with metrics=, warmup in
# iterations, SAM two-step, PGD under enable_grad, Fisher information, EMA evaluation, multi-task loss sums.
import torch
from torch import nn
from transformers import get_linear_schedule_with_warmup
from sam import SAM



def train_a(model, loader, args):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[60000, 80000], gamma=0.1)
    for epoch in range(args.epochs):
        for x, y in loader:
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
            scheduler.step()


def train_b(model, loader, args):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=args.epochs // 3)
    for epoch in range(args.epochs):
        if epoch > 0:
            scheduler.step()
        for x, y in loader:
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()


def train_c(model, loader, args):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0=10, T_mult=2)
    iters = len(loader)
    for epoch in range(args.epochs):
        for i, (x, y) in enumerate(loader):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
            scheduler.step(epoch + i / iters)


def train_d(model, loader, val, args):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, "min")
    warmup = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=0.01, total_iters=args.warmup_iters)
    it = 0
    for epoch in range(args.epochs):
        model.train()
        for x, y in loader:
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
            if it < args.warmup_iters:
                warmup.step()
            it += 1
        model.eval()
        with torch.no_grad():
            val_loss = sum(nn.functional.cross_entropy(model(x), y).item() for x, y in val)
        scheduler.step(metrics=val_loss)


def train_e(model, loader, args):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=30, gamma=0.1)
    for epoch in range(args.start_epoch, args.epochs):
        for x, y in loader:
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
        scheduler.step()
    for g in optimizer.param_groups:
        g["lr"] = 1e-4
    for x, y in loader:
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()



def multitask(model, heads, loader, criterion, args):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = get_linear_schedule_with_warmup(optimizer, num_warmup_steps=1, num_training_steps=args.epochs)
    for epoch in range(args.epochs):
        model.train()
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()
        for x, ys in loader:
            optimizer.zero_grad()
            feats = model(x)
            loss = 0
            for head, y in zip(heads, ys):
                loss += criterion(head(feats), y)
            total_loss = 0
            for chunk in feats.chunk(2):
                total_loss += chunk.mean() / 2
            (loss + total_loss).backward()
            optimizer.step()
        scheduler.step()


def sam_train(model, loader, args):
    base_optimizer = torch.optim.SGD
    optimizer = SAM(model.parameters(), base_optimizer, lr=0.1, momentum=0.9)
    for epoch in range(args.epochs):
        for x, y in loader:
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            optimizer.first_step(zero_grad=True)
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.second_step(zero_grad=True)


def pgd_eval(model, loader, eps=8 / 255, alpha=2 / 255, steps=10):
    model.eval()
    correct = 0
    with torch.no_grad():
        for x, y in loader:
            delta = torch.zeros_like(x, requires_grad=True)
            for _ in range(steps):
                with torch.enable_grad():
                    loss = nn.functional.cross_entropy(model(x + delta), y)
                    loss.backward()
                delta.data = (delta + alpha * delta.grad.sign()).clamp(-eps, eps)
                delta.grad.zero_()
            correct += (model(x + delta).argmax(1) == y).sum().item()
    return correct


def fisher(model, loader):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    precision = {n: torch.zeros_like(p) for n, p in model.named_parameters()}
    model.eval()
    for x, y in loader:
        model.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        for n, p in model.named_parameters():
            precision[n] += p.grad.detach() ** 2 / len(loader)
    return precision, optimizer


def ema_eval(model, ema_model, loader, val_loader, args):
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs * len(loader))
    model.train()
    for epoch in range(args.epochs):
        for x, y in loader:
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
            scheduler.step()
            ema_model.update_parameters(model)
        ema_model.eval()
        with torch.no_grad():
            for x, y in val_loader:
                ema_model(x)
