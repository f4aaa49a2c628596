"""The PureJaxRL peer benchmark's pure-Python parts (no JAX, no training)."""

from __future__ import annotations

from benchmarks import _purejaxrl_driver as driver
from benchmarks import peer_purejaxrl as peer


def test_pgbench_hyperparameters_are_purejaxrls():
    c = driver.purejaxrl_config(500_000)
    hp, opt = peer.PPO_HP, peer.PPO_HP["optimizer"]
    assert (hp["n_envs"], hp["n_steps"], hp["n_epochs"]) == (
        c["NUM_ENVS"],
        c["NUM_STEPS"],
        c["UPDATE_EPOCHS"],
    )
    assert hp["batch_size"] == c["NUM_ENVS"] * c["NUM_STEPS"] // c["NUM_MINIBATCHES"]
    assert (hp["gamma"], hp["gae_lambda"], hp["clip_range"]) == (
        c["GAMMA"],
        c["GAE_LAMBDA"],
        c["CLIP_EPS"],
    )
    # PureJaxRL's value loss has a factor 0.5 that pgbench's (SB3's) has not, and a clip
    assert (hp["ent_coef"], hp["vf_coef"]) == (c["ENT_COEF"], 0.5 * c["VF_COEF"])
    assert hp["value_clip_range"] == c["CLIP_EPS"]
    assert (opt["lr"], opt["max_grad_norm"], opt["schedule"]) == (
        c["LR"],
        c["MAX_GRAD_NORM"],
        "linear" if c["ANNEAL_LR"] else "constant",
    )
    assert c["ACTIVATION"] == "tanh" and not c["DEBUG"]


def test_both_sides_spend_whole_updates():
    assert peer.STEPS_PER_UPDATE == 512
    assert driver.steps_per_seed(driver.purejaxrl_config(500_000)) == 976 * 512


def test_table_says_whether_targets_are_met():
    def side(sps, returns):
        return {"steps_per_s": sps, "seeds": len(returns), "greedy_returns": returns}

    rows = [
        {"label": "1 seed", "target": 1.0, "pgbench": side(90.0, [500.0]),
         "purejaxrl": side(100.0, [500.0])},
        {"label": "8 seeds", "target": 1.5, "pgbench": side(300.0, [500.0] * 7 + [499.9]),
         "purejaxrl": None},
    ]  # fmt: skip
    head, one, many = peer.table_rows(rows)
    assert "ratio" in head
    assert "0.90x" in one and "not met" in one and one.count("1/1") == 2
    assert "7/8" in many and many.rstrip().endswith("-")
    assert peer.learning_target(8) == 7 and peer.learning_target(2) == 2
