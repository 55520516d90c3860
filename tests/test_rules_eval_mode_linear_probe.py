"""A linear probe: a frozen backbone run under ``no_grad`` in eval mode, a classifier trained on
its features (SimSiam's linear evaluation). ``model.eval()`` there is the point, not a
mistake, even where the backbone is wrapped (``model = DataParallel(model)``) and the
classifier's construction reads the backbone's width (``nn.Linear(model.output_dim, ...)``):
neither makes the classifier's loss a loss of the backbone. Exact (code, row); the must-fire
twin runs the wrapped backbone with grad (the optimizer, from a helper, may hold its
parameters)."""

from __future__ import annotations

from tests.conftest import codes_at

PROBE = """\
import torch
import torch.nn.functional as F

from optimizers import get_optimizer


def linear_eval(model, train_loader, epochs, device):
    model = model.to(device)
    model = torch.nn.DataParallel(model)
    classifier = torch.nn.Linear(in_features=model.module.output_dim, out_features=10)
    classifier = torch.nn.DataParallel(classifier)
    optimizer = get_optimizer("sgd", classifier, lr=30.0, momentum=0.9)
    for epoch in range(epochs):
        model.eval()
        classifier.train()
        for images, labels in train_loader:
            classifier.zero_grad()
            {forward}
            preds = classifier(feature)
            loss = F.cross_entropy(preds, labels.to(device))
            loss.backward()
            optimizer.step()
"""


def test_a_frozen_backbone_in_eval_mode_under_no_grad_is_a_linear_probe():
    src = PROBE.format(forward="with torch.no_grad():\n                feature = model(images.to(device))")
    assert codes_at(src, ["OPT603"]) == []


def test_the_backbone_trained_with_grad_after_its_eval_is_reported():
    src = PROBE.format(forward="feature = model(images.to(device))")
    assert codes_at(src, ["OPT603"]) == [("OPT603", 14)]


def test_a_backbone_chained_into_a_sequential_trains_with_it():
    src = PROBE.format(forward="feature = model.module(images.to(device))").replace(
        "            preds = classifier(feature)\n",
        "            preds = torch.nn.Sequential(model, classifier)(images)\n").replace(
        "    classifier = torch.nn.DataParallel(classifier)\n",
        "    classifier = torch.nn.DataParallel(classifier)\n    net = torch.nn.Sequential(model, classifier)\n")
    src = src.replace("            preds = torch.nn.Sequential(model, classifier)(images)\n",
                      "            preds = net(images)\n").replace(
        "            feature = model.module(images.to(device))\n", "")
    assert codes_at(src, ["OPT603"]) == [("OPT603", 15)]
