import optuna

from sweeps.search import PruneAwareOptunaSearch, stopped_by_scheduler


def searcher():
    space = {"lam": optuna.distributions.FloatDistribution(1e-3, 10.0, log=True)}
    return PruneAwareOptunaSearch(space=space, metric="val_map", mode="max", seed=0)


def test_scheduler_stopped_trial_is_pruned_and_finished_trial_complete():
    s = searcher()
    assert s.suggest("stopped") and s.suggest("finished") and s.suggest("patience")
    s.on_trial_complete("stopped", {"val_map": 0.9, "epoch": 1, "epochs_planned": 4})
    s.on_trial_complete("finished", {"val_map": 0.5, "epoch": 4, "epochs_planned": 4})
    s.on_trial_complete("patience", {"val_map": 0.4, "epoch": 2, "epochs_planned": 4, "stopped_early": 1.0})
    states = {t.number: (t.state, t.value) for t in s._ot_study.trials}
    assert states[0] == (optuna.trial.TrialState.PRUNED, None)  # its partial 0.9 never reaches TPE
    assert states[1] == (optuna.trial.TrialState.COMPLETE, 0.5)
    assert states[2] == (optuna.trial.TrialState.COMPLETE, 0.4)  # stopped itself: a real result
    assert s._ot_study.best_value == 0.5


def test_stopped_by_scheduler_rule():
    assert stopped_by_scheduler({"epoch": 1, "epochs_planned": 3})
    assert not stopped_by_scheduler({"epoch": 3, "epochs_planned": 3})
    assert not stopped_by_scheduler(None)


def test_grid_sampler_gives_concurrent_trials_distinct_points():
    # Ray asks for several trials before any finishes; each must get its own grid point.
    grid = {"gamma": [0.1, 0.4, 1.0]}
    space = {"gamma": optuna.distributions.CategoricalDistribution(grid["gamma"])}
    s = PruneAwareOptunaSearch(space=space, metric=["val_psnr", "val_nima"], mode=["max", "max"],
                               sampler=optuna.samplers.GridSampler(grid, seed=0), seed=0)
    suggested = [s.suggest(f"t{i}")["gamma"] for i in range(3)]
    assert sorted(suggested) == [0.1, 0.4, 1.0]
