# A Keras model ported to PyTorch, keeping Keras' numerics: Adam(beta_1=0.9, beta_2=0.999, epsilon=1e-7)
# becomes torch Adam(betas=(0.9, 0.999), eps=1e-7); Keras' ReduceLROnPlateau on val_loss is kept too.
import numpy as np
import tensorflow as tf
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


def build_keras_reference(input_dim):
    """The original Keras model, kept for comparing outputs (not trained here)."""
    model = tf.keras.Sequential([
        tf.keras.layers.Dense(64, activation="relu", input_shape=(input_dim,)),
        tf.keras.layers.Dense(1),
    ])
    model.compile(
        optimizer=tf.keras.optimizers.Adam(learning_rate=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-7),
        loss="mse",
    )
    return model


class Regressor(nn.Module):
    def __init__(self, input_dim):
        super().__init__()
        self.dense1 = nn.Linear(input_dim, 64)
        self.dense2 = nn.Linear(64, 1)

    def forward(self, x):
        return self.dense2(F.relu(self.dense1(x)))


def fit(x_train, y_train, x_val, y_val, epochs=20, batch_size=32, learning_rate=1e-3):
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = Regressor(x_train.shape[1]).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate, betas=(0.9, 0.999), eps=1e-7)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=0.1, patience=10)

    train_loader = DataLoader(
        TensorDataset(torch.as_tensor(x_train, dtype=torch.float32), torch.as_tensor(y_train, dtype=torch.float32)),
        batch_size=batch_size,
        shuffle=True,
    )
    val_x = torch.as_tensor(x_val, dtype=torch.float32, device=device)
    val_y = torch.as_tensor(y_val, dtype=torch.float32, device=device)

    history = {"loss": [], "val_loss": []}
    for epoch in range(epochs):
        model.train()
        epoch_loss = 0.0
        for xb, yb in train_loader:
            xb, yb = xb.to(device), yb.to(device)
            optimizer.zero_grad()
            loss = F.mse_loss(model(xb).squeeze(-1), yb)
            loss.backward()
            optimizer.step()
            epoch_loss += loss.item() * xb.size(0)
        epoch_loss /= len(train_loader.dataset)

        model.eval()
        with torch.no_grad():
            val_loss = F.mse_loss(model(val_x).squeeze(-1), val_y).item()
        scheduler.step(val_loss)

        history["loss"].append(epoch_loss)
        history["val_loss"].append(val_loss)
        print(f"Epoch {epoch + 1}/{epochs} - loss: {epoch_loss:.4f} - val_loss: {val_loss:.4f}")
    return model, history


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1000, 8)).astype("float32")
    y = x.sum(axis=1)
    fit(x[:800], y[:800], x[800:], y[800:])
