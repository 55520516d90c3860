"""OPT301 (buggy): a Keras name as a parameter-group key is silently ignored by PyTorch."""
import torch
from _common import make_model

model = make_model()
optimizer = torch.optim.Adam([
    {"params": model[0].parameters()},
    {"params": model[2].parameters(), "learning_rate": 1e-4},
], lr=1e-3)
