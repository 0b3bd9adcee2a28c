"""The one epoch loop: several networks and optimizers in one state, exact resume, patience."""

import pytest
import torch
from torch import nn

from trainables.contract import EPOCH, STATE_MODEL, STOPPED_EARLY
from trainables.loop import EarlyStopping, Trainees, run_epochs


def gan_like(seed: int = 0):
    """A generator and a critic with their own optimizers, a data generator and dropout."""
    torch.manual_seed(seed)
    gen_net = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 4))
    critic = nn.Linear(4, 1)
    opts = {"g": torch.optim.Adam(gen_net.parameters(), 1e-2), "c": torch.optim.SGD(critic.parameters(), 1e-2, momentum=0.9)}
    data = torch.Generator().manual_seed(seed)
    trainees = Trainees(nets={"generator": gen_net, "critic": critic}, model="generator", optimizers=opts, generators={"data": data})

    def one_epoch(epoch: int) -> dict[str, float]:
        gen_net.train()
        x = torch.randn(16, 4, generator=data)
        c_loss = critic(gen_net(x).detach()).mean() - critic(x).mean()
        opts["c"].zero_grad()
        c_loss.backward()
        opts["c"].step()
        g_loss = -critic(gen_net(x)).mean()  # dropout draws from the global torch RNG
        opts["g"].zero_grad()
        g_loss.backward()
        opts["g"].step()
        return {"c_loss": c_loss.item(), "g_loss": g_loss.item()}

    return trainees, one_epoch


def collect(epochs: int, resume=None, early=None, seed: int = 0) -> list[tuple[dict, dict]]:
    trainees, one_epoch = gan_like(seed)
    reports = []
    run_epochs(epochs, trainees, one_epoch, lambda m, s: reports.append((m, s)), resume, early)
    return reports


def test_resume_from_any_epoch_continues_exactly():
    full = collect(4)
    assert [m[EPOCH] for m, _ in full] == [1.0, 2.0, 3.0, 4.0]
    for k in (1, 2, 3):
        torch.manual_seed(123)  # the global RNG is part of the state: a resumed run restores it
        resumed = collect(4, resume=full[k - 1][1], seed=99)  # other initial weights: all must come from the state
        assert [m for m, _ in resumed] == [m for m, _ in full[k:]]
    last = full[-1][1]
    assert set(last["nets"]) == {"generator", "critic"} and set(last["optimizers"]) == {"g", "c"}
    assert all(torch.equal(last[STATE_MODEL][k], v) for k, v in last["nets"]["generator"].items())


def test_a_reported_state_is_a_snapshot_not_a_live_reference():
    reports = collect(2)
    first, second = reports[0][1][STATE_MODEL], reports[1][1][STATE_MODEL]
    assert any(not torch.equal(first[k], second[k]) for k in first)


def test_patience_stops_and_says_so_once():
    values = iter([3.0, 2.0, 2.5, 2.4, 9.0, 1.0])
    trainees, _ = gan_like()
    reports = []
    run_epochs(6, trainees, lambda e: {"val_loss": next(values)}, lambda m, s: reports.append((m, s)),
               early_stopping=EarlyStopping("val_loss", patience=2))
    assert [m[STOPPED_EARLY] for m, _ in reports] == [0.0, 0.0, 0.0, 1.0]  # 2.5 and 2.4 are not better than 2.0
    after = []
    trainees, _ = gan_like()
    run_epochs(6, trainees, lambda e: {"val_loss": 0.0}, lambda m, s: after.append(m), resume=reports[-1][1],
               early_stopping=EarlyStopping("val_loss", patience=2))
    assert after == []  # a resumed run that had stopped itself stays stopped


def test_running_out_of_epochs_is_not_an_early_stop():
    trainees, _ = gan_like()
    reports = []
    run_epochs(2, trainees, lambda e: {"acc": 0.5}, lambda m, s: reports.append(m), early_stopping=EarlyStopping("acc", 1, "max"))
    assert [m[STOPPED_EARLY] for m in reports] == [0.0, 0.0]


def test_the_model_must_be_one_of_the_nets():
    with pytest.raises(ValueError, match="not one of the nets"):
        Trainees(nets={"a": nn.Linear(1, 1)}, model="b")


def test_a_nan_or_infinite_loss_fails_the_trial_before_it_is_reported():
    trainees, _ = gan_like()
    reports = []
    losses = iter([{"g_loss": 1.0, "psnr": float("inf")}, {"g_loss": float("nan")}])  # an infinite PSNR is no loss
    with pytest.raises(FloatingPointError, match=r"training diverged at epoch 2: g_loss = nan"):
        run_epochs(3, trainees, lambda epoch: next(losses), lambda m, s: reports.append(m))
    assert [m[EPOCH] for m in reports] == [1.0]
