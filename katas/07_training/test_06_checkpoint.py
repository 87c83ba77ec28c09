"""Step 6: checkpoint — model and optimizer in one .npz, no pickle, restored bit for bit."""

import numpy as np
import pytest

from dojo.testing import assert_close, raises
from tinytorch import rng
from tinytorch.activations import ReLU
from tinytorch.layers import Linear, Sequential
from tinytorch.losses import cross_entropy
from tinytorch.optim import SGD, Adam, AdamW
from tinytorch.tensor import Tensor
from tinytorch.training import CosineAnnealingLR, load_checkpoint, save_checkpoint

OPTIMIZERS = {
    "Adam": lambda params: Adam(params, lr=0.01, betas=(0.8, 0.95)),
    "AdamW": lambda params: AdamW(params, lr=0.01, weight_decay=0.1),
    "SGD momentum": lambda params: SGD(params, lr=0.1, momentum=0.9, nesterov=True),
}


def model(seed):
    rng.manual_seed(seed)
    return Sequential(Linear(3, 8), ReLU(), Linear(8, 2))


def train(net, opt, steps, start=0):
    for step in range(start, start + steps):
        r = np.random.default_rng(step)
        x, y = Tensor(r.normal(size=(4, 3)).astype(np.float32)), Tensor(r.integers(0, 2, 4))
        loss = cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_training_continues_identically_after_reload(tmp_path, name):
    """Train 3 steps, save; load into a fresh model and optimizer (other seed); 3 more steps on both give
    bit-identical weights.

    Hint: Save every array of optimizer.state_dict()['state'] (moments, momentum buffers) and the non-array
    entries (Adam's step), and on load rebuild {'state': {int(index): {...}}, 'param_groups': [...]} for
    optimizer.load_state_dict.
    """
    make = OPTIMIZERS[name]
    net = model(0)
    opt = make(net.parameters())
    train(net, opt, 3)
    save_checkpoint(tmp_path / "ckpt.npz", net, opt)

    fresh = model(1)
    fresh_opt = make(fresh.parameters())
    load_checkpoint(tmp_path / "ckpt.npz", fresh, fresh_opt)
    train(net, opt, 3, start=3)
    train(fresh, fresh_opt, 3, start=3)
    for (key, p), q in zip(net.named_parameters(), fresh.parameters()):
        assert_close(q, p.data, rtol=0, atol=0, what=f"{key} after resuming ({name})")


def test_weights_and_hyperparameters_round_trip_exactly(tmp_path):
    """Weights come back bit for bit with their dtype, and so do the hyperparameters (a tuple stays a tuple).

    Hint: JSON keeps floats exactly but has no tuples and gives back ints as ints: remember which group values
    were tuples (betas) and turn them back into tuples on load; keep 'step' a Python int.
    """
    net = model(0)
    opt = Adam(net.parameters(), lr=0.0123456789, betas=(0.8, 0.95))
    train(net, opt, 2)
    save_checkpoint(tmp_path / "c.npz", net, opt)
    fresh = model(5)
    fresh_opt = Adam(fresh.parameters(), lr=1.0)
    load_checkpoint(tmp_path / "c.npz", fresh, fresh_opt)
    for key, value in net.state_dict().items():
        assert_close(fresh.state_dict()[key], value, rtol=0, atol=0, dtype=np.float32, what=key)
    group = fresh_opt.param_groups[0]
    assert group["lr"] == 0.0123456789 and group["betas"] == (0.8, 0.95), group
    assert fresh_opt.state[0]["step"] == 2 and isinstance(fresh_opt.state[0]["step"], int)


def test_file_is_plain_npz_without_pickle(tmp_path):
    """The checkpoint opens with np.load(allow_pickle=False) and holds no object arrays: loading it can never
    run code.

    Hint: Store only numeric arrays and one string array: np.array(json.dumps(meta)) holds the non-array data;
    a dict or list passed to np.savez becomes an object array that needs pickle.
    """
    net = model(0)
    opt = Adam(net.parameters())
    train(net, opt, 1)
    path = save_checkpoint(tmp_path / "c.npz", net, opt)
    with np.load(path, allow_pickle=False) as f:
        dtypes = {key: f[key].dtype for key in f.files}
    assert any(key.startswith("model/") for key in dtypes), f"keys: {sorted(dtypes)}"
    assert all(dtype != object for dtype in dtypes.values())


def test_metadata_and_scheduler_come_back(tmp_path):
    """Keyword metadata (epoch=7, note='x') is returned by load_checkpoint; a scheduler's position is
    restored.

    Hint: Put scheduler.state_dict() (or None) and the keyword metadata in the JSON, and on load call
    scheduler.load_state_dict(...) when both exist; return the metadata dict.
    """
    net = model(0)
    opt = SGD(net.parameters(), lr=0.1)
    scheduler = CosineAnnealingLR(opt, t_max=10)
    for _ in range(4):
        scheduler.step()
    save_checkpoint(tmp_path / "c.npz", net, opt, scheduler, epoch=7, note="x")
    fresh_opt = SGD(net.parameters(), lr=0.1)
    fresh_scheduler = CosineAnnealingLR(fresh_opt, t_max=10)
    meta = load_checkpoint(tmp_path / "c.npz", net, fresh_opt, fresh_scheduler)
    assert meta == {"epoch": 7, "note": "x"}
    assert fresh_scheduler.last_step == 4 and fresh_opt.param_groups[0]["lr"] == opt.param_groups[0]["lr"]


def test_another_optimizer_type_is_refused(tmp_path):
    """Loading an Adam checkpoint into SGD is a ValueError (the state would mean nothing).

    Hint: Save type(optimizer).__name__ and, on load, compare it with the optimizer given before loading
    anything into it; raise a ValueError naming the saved type ('Adam').
    """
    net = model(0)
    opt = Adam(net.parameters())
    train(net, opt, 1)
    save_checkpoint(tmp_path / "c.npz", net, opt)
    with raises(ValueError, match="Adam"):
        load_checkpoint(tmp_path / "c.npz", net, SGD(net.parameters(), lr=0.1))


def test_save_leaves_only_the_checkpoint(tmp_path):
    """Saving writes exactly the named file (written beside it, then renamed): no temporary file is left, and
    a second save replaces it.

    Hint: Write to a temporary file in the same folder (tempfile.mkstemp(dir=path.parent)) and os.replace it
    onto path; np.savez given a name adds '.npz' to names without it, so write through an open file object.
    """
    net = model(0)
    save_checkpoint(tmp_path / "c.npz", net)
    save_checkpoint(tmp_path / "c.npz", net)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.npz"]
    load_checkpoint(tmp_path / "c.npz", model(3))
