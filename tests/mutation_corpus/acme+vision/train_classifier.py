"""A small image classifier trained with a one-cycle schedule (synthetic harness input)."""
import torch
import torch.nn as nn
from torch.optim.lr_scheduler import OneCycleLR


class TinyNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.neck = nn.Conv2d(8, 8, 1)
        self.head = nn.Linear(8, 10)

    def forward(self, x):
        return self.head(self.pool(self.neck(self.stem(x))).flatten(1))


def fit(loader, epochs):
    model = TinyNet()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4, betas=(0.9, 0.95), eps=1e-8)
    scheduler = OneCycleLR(optimizer, max_lr=1e-3, total_steps=epochs * len(loader))
    for epoch in range(epochs):
        running = 0.0
        for images, labels in loader:
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(images), labels)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            running += loss.item()
        print(epoch, running / len(loader))
    return model
