# Composite of correct construction shapes met in real code (not one script): optimizers picked in
# branches from one stored parameters() generator, moves of modules the optimizer does not hold, moves after
# training, ParameterList as params, custom Optimizer subclasses with Keras-like argument names,
# provably-zero Adam weight decay, Keras numerics spelled the torch way.
import copy

import torch
import torch.optim as optim
from torch import nn
from torch.optim import Adam, Optimizer



def build(model, args):
    params = model.parameters()
    if args.opt == "sgd":
        optimizer = torch.optim.SGD(params, lr=args.lr, momentum=0.9)
    elif args.opt == "adam":
        optimizer = torch.optim.AdamW(params, lr=args.lr)
    else:
        raise ValueError(args.opt)
    return optimizer


def build2(model, args):
    params = filter(lambda p: p.requires_grad, model.parameters())
    optimizer = torch.optim.SGD(params, lr=args.lr) if args.sgd else torch.optim.Adam(params, lr=args.lr)
    return optimizer


def build3(models, args):
    opts = []
    for m in models:
        params = m.parameters()
        opts.append(torch.optim.SGD(params, lr=args.lr))
    return opts


def build4(model, args):
    params = model.parameters()
    try:
        return torch.optim.SGD(params, lr=args.lr, fused=True)
    except RuntimeError:
        return None



class Prompt(nn.Module):
    def __init__(self):
        super().__init__()
        self.prompts = nn.ParameterList([nn.Parameter(torch.zeros(4, 8)) for _ in range(3)])


prompt = Prompt()
weights = nn.ParameterList([nn.Parameter(torch.randn(3)) for _ in range(2)])
opt1 = torch.optim.SGD(weights, lr=0.1)
opt2 = torch.optim.Adam(prompt.prompts, lr=1e-3)
emb = nn.Embedding(10, 4)
opt3 = torch.optim.SparseAdam(list(emb.parameters()), lr=1e-3)



class MyAdam(torch.optim.Adam):
    def __init__(self, params, lr=1e-3, decay=0.0, **kwargs):
        super().__init__(params, lr=lr, **kwargs)
        self.decay = decay


class Nadam(Optimizer):
    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, schedule_decay=4e-3):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, schedule_decay=schedule_decay)
        super().__init__(params, defaults)


class KerasLikeSGD(Optimizer):
    def __init__(self, params, learning_rate=0.01, momentum=0.0, decay=0.0, clipnorm=None):
        defaults = dict(lr=learning_rate, momentum=momentum, decay=decay)
        super().__init__(params, defaults)


model = torch.nn.Linear(3, 1)
o1 = MyAdam(model.parameters(), lr=1e-3, decay=1e-4)
o2 = Nadam(model.parameters(), lr=2e-3, schedule_decay=4e-3, weight_decay=1e-4)
o3 = KerasLikeSGD(model.parameters(), learning_rate=0.01, decay=1e-6, clipnorm=1.0)
o4 = torch.optim.Adadelta(model.parameters(), rho=0.95)
groups = [{"params": [model.weight], "lr_scale": 0.5, "weight_decay": 0.05}, {"params": [model.bias], "lr_scale": 1.0, "weight_decay": 0.0}]
o5 = torch.optim.AdamW(groups, lr=1e-3)
o6 = torch.optim.AdamW([{"params": model.parameters(), "name": "all", "initial_lr": 1e-3}], lr=1e-3)



class Agent:
    def __init__(self, actor: nn.Module, critic: nn.Module, lr=1e-3):
        self.actor = actor
        self.critic = critic
        self.actor_optim = Adam(self.actor.parameters(), lr=lr)
        self.critic_optim = Adam(self.critic.parameters(), lr=lr, weight_decay=0)
        self.params = list(self.actor.parameters()) + list(self.critic.parameters())

    def to(self, device):
        self.actor.to(device)
        self.critic.to(device)
        return self


def make(model: nn.Module, device):
    optimizer = torch.optim.SGD(params=model.parameters(), lr=0.01)
    agent = Agent(nn.Linear(2, 2), nn.Linear(2, 1)).to(device)
    return optimizer, agent


def finetune(model, device, args):
    model = model.to(device)
    params = model.parameters()
    optimizer = torch.optim.SGD(params, lr=args.lr)
    for p in model.parameters():
        p.requires_grad_(True)
    n = sum(p.numel() for p in model.parameters())
    return optimizer, n



class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Linear(4, 4)
        self.head = nn.Linear(4, 2)


def probe(device):
    model = Net()
    model.head.to(device)
    optimizer = torch.optim.SGD(model.head.parameters(), lr=0.1)
    model.backbone.half()
    model.backbone.requires_grad_(False)

    criterion = nn.CrossEntropyLoss()
    opt2 = torch.optim.SGD(model.head.parameters(), lr=0.1)
    criterion.to(device)

    student = Net()
    teacher = Net()
    opt3 = torch.optim.AdamW(student.parameters(), lr=1e-3)
    teacher.to(device).eval()
    return optimizer, opt2, opt3


def build_then_wrap(model, device, local_rank):
    model = model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model = torch.nn.parallel.DistributedDataParallel(model, device_ids=[local_rank])
    model = torch.compile(model)
    return model, optimizer


def export(model, loader, device):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for x, y in loader:
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()
    model = model.to("cpu")
    scripted = torch.jit.script(model.half())
    return scripted



def train(model, loader, device, args):
    model.to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for x, y in loader:
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x.to(device)), y.to(device))
        loss.backward()
        optimizer.step()
    model.cpu()
    torch.save(model.state_dict(), "model.pt")
    model.eval()
    model.half()
    return model



def make_optimizer(model, cfg):
    if cfg.optimizer == "adam":
        return optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=0)
    if cfg.optimizer == "adam_nowd":
        return optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=0.0)
    if cfg.optimizer == "adamw":
        return optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adam_decoupled":
        return optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, decoupled_weight_decay=True)
    if cfg.optimizer == "rmsprop":
        return optim.RMSprop(model.parameters(), lr=cfg.lr, alpha=0.9, eps=1e-7)
    if cfg.optimizer == "adadelta":
        return optim.Adadelta(model.parameters(), lr=1.0, rho=0.95, eps=1e-7)
    if cfg.optimizer == "sgd":
        return optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov)
    if cfg.optimizer == "sgd_n":
        return optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, nesterov=True)
    groups = [{"params": model.parameters(), "weight_decay": 0.0}]
    return optim.Adam(groups, lr=cfg.lr)


device = "cuda"
model = nn.Linear(4, 2).to(device)
ema_model = copy.deepcopy(model)
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
ema_model.to("cpu")
teacher = nn.Linear(4, 2)
teacher.cuda()
teacher.half()
x = torch.randn(2, 4)
x = x.to(device)
buffer = torch.zeros(3).cuda()
model = model.to(memory_format=torch.channels_last)
