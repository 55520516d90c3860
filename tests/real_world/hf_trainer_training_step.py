# A Trainer in the style of transformers.Trainer: training_step does forward+backward, the outer
# loop does accumulation, clipping, optimizer.step(), lr_scheduler.step() and model.zero_grad().
import math

import torch
from torch import nn
from torch.utils.data import DataLoader
from transformers import get_linear_schedule_with_warmup


class MiniTrainer:
    def __init__(self, model, args, train_dataset, data_collator=None):
        self.model = model
        self.args = args
        self.train_dataset = train_dataset
        self.data_collator = data_collator
        self.optimizer = None
        self.lr_scheduler = None

    def get_train_dataloader(self):
        return DataLoader(self.train_dataset, batch_size=self.args.per_device_train_batch_size,
                          shuffle=True, collate_fn=self.data_collator)

    def create_optimizer(self):
        decay_parameters = [n for n, p in self.model.named_parameters() if "bias" not in n and "norm" not in n]
        optimizer_grouped_parameters = [
            {
                "params": [p for n, p in self.model.named_parameters() if (n in decay_parameters and p.requires_grad)],
                "weight_decay": self.args.weight_decay,
            },
            {
                "params": [
                    p for n, p in self.model.named_parameters() if (n not in decay_parameters and p.requires_grad)
                ],
                "weight_decay": 0.0,
            },
        ]
        self.optimizer = torch.optim.AdamW(
            optimizer_grouped_parameters,
            lr=self.args.learning_rate,
            betas=(self.args.adam_beta1, self.args.adam_beta2),
            eps=self.args.adam_epsilon,
        )
        return self.optimizer

    def create_scheduler(self, num_training_steps, optimizer=None):
        if self.lr_scheduler is None:
            self.lr_scheduler = get_linear_schedule_with_warmup(
                self.optimizer if optimizer is None else optimizer,
                num_warmup_steps=self.args.get_warmup_steps(num_training_steps),
                num_training_steps=num_training_steps,
            )
        return self.lr_scheduler

    def compute_loss(self, model, inputs, return_outputs=False):
        outputs = model(**inputs)
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs[0]
        return (loss, outputs) if return_outputs else loss

    def training_step(self, model, inputs):
        model.train()
        loss = self.compute_loss(model, inputs)
        if self.args.n_gpu > 1:
            loss = loss.mean()  # mean() to average on multi-gpu parallel training
        if self.args.gradient_accumulation_steps > 1:
            loss = loss / self.args.gradient_accumulation_steps
        loss.backward()
        return loss.detach()

    def train(self):
        args = self.args
        train_dataloader = self.get_train_dataloader()
        num_update_steps_per_epoch = max(len(train_dataloader) // args.gradient_accumulation_steps, 1)
        max_steps = math.ceil(args.num_train_epochs * num_update_steps_per_epoch)
        self.create_optimizer()
        self.create_scheduler(num_training_steps=max_steps)

        model = self.model
        tr_loss = torch.tensor(0.0)
        global_step = 0
        model.zero_grad()
        for epoch in range(int(args.num_train_epochs)):
            steps_in_epoch = len(train_dataloader)
            for step, inputs in enumerate(train_dataloader):
                tr_loss_step = self.training_step(model, inputs)
                tr_loss += tr_loss_step

                if (step + 1) % args.gradient_accumulation_steps == 0 or (step + 1) == steps_in_epoch:
                    if args.max_grad_norm is not None and args.max_grad_norm > 0:
                        nn.utils.clip_grad_norm_(model.parameters(), args.max_grad_norm)
                    self.optimizer.step()
                    self.lr_scheduler.step()
                    model.zero_grad()
                    global_step += 1

                if global_step >= max_steps:
                    break
        return global_step, tr_loss.item() / max(global_step, 1)
