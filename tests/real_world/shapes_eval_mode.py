# Composite of correct eval-mode shapes met in real code (not one script): evaluation every N steps with
# train() at the top of the batch loop, a best-model copy put in eval mode, train(False) restored in finally,
# the previous mode restored from model.training, evaluation only after the last epoch.
import copy
import torch
from torch import nn


def evaluate(model, loader):
    model.eval()
    with torch.no_grad():
        return sum(nn.functional.cross_entropy(model(x), y).item() for x, y in loader)


def train_a(model, loader, val_loader, epochs, eval_every):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    best, best_model = float("inf"), None
    for epoch in range(epochs):
        for step, (x, y) in enumerate(loader):
            model.train()
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
            if step % eval_every == 0:
                val = evaluate(model, val_loader)
                if val < best:
                    best = val
                    best_model = copy.deepcopy(model)
                    best_model.eval()
    return best_model


def train_b(model, loader, val_loader, epochs):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for epoch in range(epochs):
        for x, y in loader:
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
        model.train(False)
        try:
            evaluate(model, val_loader)
        finally:
            model.train(True)


def train_c(model, loader, val_loader, epochs):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for epoch in range(epochs):
        for x, y in loader:
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
        was_training = model.training
        model.eval()
        evaluate(model, val_loader)
        model.train(was_training)


def train_d(model, loader, val_loader, epochs):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model.train()
    for epoch in range(epochs):
        for x, y in loader:
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
        if epoch == epochs - 1:
            model.eval()
            evaluate(model, val_loader)
