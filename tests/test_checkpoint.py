"""Cell-aware checkpoints: save/load round trips, mismatch reports, ModelCheckpoint naming."""
import warnings
from types import SimpleNamespace

import numpy as np
import pytest

from graphc import Parameter, Tensor
from graphc.nn import Cell
from runtime import CheckpointConfig, ModelCheckpoint, load_checkpoint, load_param_into_net, save_checkpoint
from runtime.callbacks import RunContext
from runtime.checkpoint_format import encode_checkpoint, read_checkpoint


class Pair(Cell):
    def __init__(self, shape=(2, 3), fill=1.0):
        super().__init__()
        self.weight = Parameter(np.full(shape, fill, np.float32))
        self.bias = Parameter(np.arange(shape[0], dtype=np.float32))


class Outer(Cell):
    def __init__(self, **kwargs):
        super().__init__()
        self.layer = Pair(**kwargs)


def test_round_trip_restores_every_value(tmp_path):
    net = Outer(fill=2.5)
    save_checkpoint(net, tmp_path / "net.ckpt")
    assert [name for name, _ in read_checkpoint(tmp_path / "net.ckpt")] == ["layer.weight", "layer.bias"]
    other = Outer(fill=0.0)
    assert load_param_into_net(other, load_checkpoint(tmp_path / "net.ckpt")) == ([], [])
    np.testing.assert_array_equal(other.layer.weight.asnumpy(), np.full((2, 3), 2.5, np.float32))


def test_filter_prefix_and_missing_names_are_reported(tmp_path):
    save_checkpoint(Outer(fill=3.0), tmp_path / "net.ckpt")
    params = load_checkpoint(tmp_path / "net.ckpt", filter_prefix="layer.weight")
    assert list(params) == ["layer.bias"]
    net = Outer(fill=0.0)
    assert load_param_into_net(net, params) == (["layer.weight"], [])      # (param_not_load, ckpt_not_load)
    assert net.layer.weight.asnumpy().sum() == 0.0
    assert load_param_into_net(net, params, strict_load=True) == (["layer.weight"], [])     # reported, as in 2.x


def test_checkpoint_of_another_network_is_rejected_whole(tmp_path):
    save_checkpoint(Outer(shape=(4, 3), fill=7.0), tmp_path / "big.ckpt")
    net = Outer(fill=1.0)
    with pytest.raises(ValueError, match=r"layer\.weight: checkpoint float32\[4, 3\], network float32\[2, 3\]"):
        load_param_into_net(net, load_checkpoint(tmp_path / "big.ckpt"))
    assert net.layer.bias.asnumpy().tolist() == [0.0, 1.0]       # nothing was half-loaded


def test_truncated_file_is_a_clear_error(tmp_path):
    path = tmp_path / "net.ckpt"
    save_checkpoint(Outer(), path)
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(ValueError, match="net.ckpt: byte"):
        load_checkpoint(path)


def test_empty_or_cut_between_entries_is_an_error_even_when_not_strict(tmp_path):
    path = tmp_path / "net.ckpt"
    save_checkpoint(Outer(), path)
    whole = path.read_bytes()
    [(_, weight), _] = read_checkpoint(path)
    # cut after the first entry (the file less its 17-byte trailer): protobuf alone would read one entry
    first_entry_end = len(encode_checkpoint([("layer.weight", weight)])) - 17
    for data, message in ((b"", "the file is empty"), (whole[:first_entry_end], "crc_num trailer .* is missing")):
        path.write_bytes(data)
        net = Outer(fill=5.0)
        with pytest.raises(ValueError, match=message):
            load_checkpoint(path, net, strict_load=False)
        assert net.layer.weight.asnumpy()[0, 0] == 5.0
    path.write_bytes(encode_checkpoint([]))
    with pytest.raises(ValueError, match="net.ckpt holds no parameters; load another checkpoint"):
        load_checkpoint(path)
    path.write_bytes(whole)
    with pytest.raises(ValueError, match=r"holds no parameters that filter_prefix \['layer'\] leaves"):
        load_checkpoint(path, filter_prefix="layer")


def _drive(callback, steps, batch_num):
    cb = SimpleNamespace(cur_step_num=0, cur_epoch_num=1, batch_num=batch_num, train_network=Outer())
    context = RunContext(cb)
    for step in range(1, steps + 1):
        cb.cur_step_num, cb.cur_epoch_num = step, (step - 1) // batch_num + 1
        callback.step_end(context)
    callback.end(context)


def test_model_checkpoint_names_keeps_the_newest_and_avoids_clashes(tmp_path):
    config = CheckpointConfig(save_checkpoint_steps=2, keep_checkpoint_max=2)
    first = ModelCheckpoint(prefix="lenet", directory=tmp_path, config=config)
    _drive(first, steps=7, batch_num=3)
    # saves at steps 2, 4, 6 and at the end (7); epoch = (step-1)//3+1, step in epoch = (step-1)%3+1
    assert sorted(p.name for p in tmp_path.glob("*.ckpt")) == ["lenet-2_3.ckpt", "lenet-3_1.ckpt"]
    second = ModelCheckpoint(prefix="lenet", directory=tmp_path, config=config)
    assert second.prefix == "lenet_1"


def test_config_rejects_saving_never():
    with pytest.raises(ValueError, match="both 0"):
        CheckpointConfig(save_checkpoint_steps=0, save_checkpoint_seconds=0)


def test_config_warns_of_what_mindspore_overrides():
    with pytest.warns(UserWarning, match=r"save_checkpoint_seconds=100 has no effect: save_checkpoint_steps=1 "
                                         r"overrides it, as in MindSpore; pass save_checkpoint_steps=0"):
        config = CheckpointConfig(save_checkpoint_seconds=100)
    assert (config.save_checkpoint_steps, config.save_checkpoint_seconds) == (1, None)   # MindSpore 2.10's values
    with pytest.warns(UserWarning, match="keep_checkpoint_per_n_minutes=5 has no effect: keep_checkpoint_max=5"):
        config = CheckpointConfig(keep_checkpoint_per_n_minutes=5)
    assert (config.keep_checkpoint_max, config.keep_checkpoint_per_n_minutes) == (5, None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        config = CheckpointConfig(save_checkpoint_steps=0, save_checkpoint_seconds=100, keep_checkpoint_max=0,
                                  keep_checkpoint_per_n_minutes=5)
    assert (config.save_checkpoint_seconds, config.keep_checkpoint_per_n_minutes) == (100, 5)


@pytest.mark.parametrize("append_info, error, message", [
    (["epoch_num", "foo"], ValueError, "append_info names 'foo'; the names it takes are"),
    ("epoch_num", TypeError, "append_info must be a list, got str"),
    ([3], TypeError, "append_info holds a int"),
    ([{"a": 1}, {"b": 2}], TypeError, "append_info holds 2 dicts; it takes one"),
    ([{"a": np.ones(2)}], TypeError, "append_info entry 'a': ndarray; .* int, float, bool, Parameter or Tensor"),
    ([{"a": "text"}], ValueError, "entry 'a' is a str; .*MindSpore's str entries are not supported"),
])
def test_config_refuses_append_info_mindspore_refuses_or_graphc_cannot_save(append_info, error, message):
    with pytest.raises(error, match=message):
        CheckpointConfig(append_info=append_info)


def test_append_info_is_saved_with_mindspore_s_types(tmp_path):
    info = ["epoch_num", "step_num", {"lr": 0.5, "done": True, "scale": Tensor(np.array([2.0], np.float32))}]
    saver = ModelCheckpoint("net", tmp_path, CheckpointConfig(save_checkpoint_steps=3, append_info=info))
    _drive(saver, steps=3, batch_num=2)
    saved = {name: (value.dtype, value.tolist()) for name, value in read_checkpoint(tmp_path / "net-2_1.ckpt")}
    assert {name: saved[name] for name in ("epoch_num", "step_num", "lr", "done", "scale")} == {
        "epoch_num": (np.int64, 2), "step_num": (np.int64, 3), "lr": (np.float32, 0.5), "done": (np.bool_, True),
        "scale": (np.float32, [2.0])}


def test_keep_per_n_minutes_keeps_only_the_newest_within_the_window(tmp_path):
    config = CheckpointConfig(save_checkpoint_steps=1, keep_checkpoint_max=0, keep_checkpoint_per_n_minutes=60)
    saver = ModelCheckpoint(prefix="net", directory=tmp_path, config=config)
    _drive(saver, steps=4, batch_num=4)
    # all four saves fall within the same hour: each new one replaces the one before it
    assert [p.name for p in tmp_path.glob("*.ckpt")] == ["net-1_4.ckpt"]


def test_async_save_writes_the_values_of_the_moment_it_was_called(tmp_path):
    import runtime.checkpoint as checkpoint
    net = Outer(fill=1.0)
    save_checkpoint(net, tmp_path / "async.ckpt", async_save=True)
    net.layer.weight.set_data(np.zeros((2, 3), np.float32))      # training goes on while it writes
    checkpoint.wait_for_async_save()
    assert checkpoint._writing is None
    np.testing.assert_array_equal(dict(read_checkpoint(tmp_path / "async.ckpt"))["layer.weight"], np.ones((2, 3)))
    saved = load_checkpoint(tmp_path / "async.ckpt")                   # a load waits for a pending save
    assert float(saved["layer.weight"].asnumpy()[0, 0]) == 1.0


def test_integrated_save_false_warns_what_graphc_does_instead(tmp_path):
    with pytest.warns(UserWarning, match="integrated_save=False has no effect: graphc keeps every parameter whole"):
        save_checkpoint(Outer(), tmp_path / "net.ckpt", integrated_save=False)
    assert (tmp_path / "net.ckpt").is_file()
    with pytest.warns(UserWarning, match="integrated_save=False has no effect"):
        CheckpointConfig(integrated_save=False)


def test_model_checkpoint_saves_asynchronously_when_configured(tmp_path):
    import runtime.checkpoint as checkpoint
    saver = ModelCheckpoint("net", tmp_path, CheckpointConfig(save_checkpoint_steps=1, async_save=True))
    net = Outer(fill=4.0)
    cb = SimpleNamespace(cur_step_num=1, cur_epoch_num=1, batch_num=5, train_network=net)
    saver.step_end(RunContext(cb))
    checkpoint.wait_for_async_save()
    assert dict(read_checkpoint(tmp_path / "net-1_1.ckpt"))["layer.weight"][0, 0] == 4.0
