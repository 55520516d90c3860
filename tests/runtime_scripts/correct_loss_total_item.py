# expect: -
"""Twin of loss_total_with_graph: .item() keeps a Python float."""
import torch
from torch import nn

from _tiny import batches, mlp

model = mlp()
optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
for epoch in range(2):
    running_loss = 0.0
    for x, y in batches(12):
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        running_loss += loss.item()
    print(f"epoch {epoch}: {running_loss / 12:.4f}")
