"""OPT403 (buggy): a typo in a parameter-group key is silently ignored by PyTorch."""
import torch
from _common import make_model

model = make_model()
optimizer = torch.optim.AdamW([
    {"params": model[0].parameters(), "weight_decays": 0.0},
    {"params": model[2].parameters()},
], lr=1e-3, weight_decay=0.05)
