"""Hostile PyTorch weight files: a payload in any pickle of either format,
a truncated file, storages that do not match their tensors. Each is refused
with one line naming the file, and none of its code runs."""

import collections

import numpy as np
import pytest

from common.backbones.torch_pickle import load_state
from tests.common import torch_files

STATE = collections.OrderedDict(weight=np.arange(6, dtype="float32").reshape(2, 3),
                                bias=np.ones(2, "float32"))


def _refused(path, *words):
    """Loads ``path``, expecting a one-line ValueError naming it and ``words``."""
    with pytest.raises(ValueError) as error:
        load_state(str(path))
    message = str(error.value)
    assert str(path) in message and "\n" not in message, message
    for word in words:
        assert word in message, message
    return message


def test_a_well_formed_legacy_file_loads(tmp_path):
    torch_files.write_torch_legacy(tmp_path / "good.pth", STATE)
    loaded = load_state(str(tmp_path / "good.pth"))
    assert list(loaded) == ["weight", "bias"]
    np.testing.assert_array_equal(loaded["weight"], STATE["weight"])


@pytest.mark.parametrize("position", range(5))
def test_a_payload_in_any_legacy_pickle_runs_nothing(tmp_path, position):
    marker, path = tmp_path / "ran", tmp_path / "evil.pth"
    torch_files.write_torch_legacy(path, STATE,
                                   {position: torch_files.payload_pickle(marker)})
    _refused(path, "mkdir")
    assert not marker.exists()


def test_a_payload_in_the_zip_data_pickle_runs_nothing(tmp_path):
    marker, path = tmp_path / "ran", tmp_path / "evil.pth"
    torch_files.write_torch_zip(path, STATE, torch_files.payload_pickle(marker))
    _refused(path, "mkdir")
    assert not marker.exists()


@pytest.mark.parametrize("cut", [3, 60, -5])
def test_a_truncated_legacy_file_is_one_line(tmp_path, cut):
    raw = torch_files.legacy_bytes(STATE)
    (tmp_path / "cut.pth").write_bytes(raw[:cut])
    _refused(tmp_path / "cut.pth")


def test_a_storage_whose_byte_count_does_not_match_is_refused(tmp_path):
    torch_files.write_torch_legacy(tmp_path / "legacy.pth", STATE, numel=4)
    _refused(tmp_path / "legacy.pth", "storage")
    pickled, _ = torch_files.data_pickle(STATE, numel=100)
    torch_files.write_torch_zip(tmp_path / "zip.pth", STATE, pickled)
    _refused(tmp_path / "zip.pth", "storage")


def test_a_tensor_reaching_past_its_storage_is_refused(tmp_path):
    """as_strided would read memory outside the storage: checked first."""
    big = collections.OrderedDict(weight=np.zeros((200, 300), "float32"))
    pickled, _ = torch_files.data_pickle(big, numel=6)  # STATE's first storage: 6 floats
    torch_files.write_torch_zip(tmp_path / "zip.pth", STATE, pickled)
    _refused(tmp_path / "zip.pth", "past")


def test_fsa_train_weights_payload_is_exit_2_and_runs_nothing(tmp_path, capsys):
    from common.training.entry import main
    from fsa.train import COMMAND
    marker, path = tmp_path / "ran", tmp_path / "evil.pth"
    torch_files.write_torch_legacy(path, STATE, {0: torch_files.payload_pickle(marker)})
    with pytest.raises(SystemExit) as stop:
        main(COMMAND, ["--weights", str(path), "--epochs", "1", "--verbose", "0",
                       "--output", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and len(err) == 1 and str(path) in err[0], err
    assert not marker.exists()
