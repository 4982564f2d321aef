"""``keras.saving.load_model`` in a fresh process that imports no toolkit
package: Keras looks a class up only among what was imported (by module
name only for its own packages) and its error, dozens of lines of configs,
has no room for a line of ours. So the line that says what to import sits
beside the model, in the run folder's README.txt: that line, and nothing
else, makes the same process load it."""

import os
import re
import subprocess
import sys

import numpy as np


def _fresh(code, cwd):
    """``code`` in a new interpreter outside the checkout, as a user's script
    runs (the toolkit as installed, nothing on PYTHONPATH)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",
                                                            "TF_CPP_MIN_LOG_LEVEL")}
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_the_run_readme_says_what_to_import(tmp_path):
    from agnet.model import build_agnet
    from common.backbones import build_backbone
    from common.training.run_readme import write_run_readme
    run = tmp_path / "run"
    run.mkdir()
    model = build_agnet(build_backbone("tiny", (32, 32, 3)), 3, num_primary=2)
    model.save(run / "model.keras")
    inputs = {"image": np.random.default_rng(0).uniform(0, 1, (2, 32, 32, 3)).astype("float32"),
              "regions": np.tile([[0.1, 0.1, 0.6, 0.6], [0.2, 0.3, 0.9, 0.8],
                                  [0.1, 0.1, 0.9, 0.8]], (2, 1, 1)).astype("float32")}
    np.savez(tmp_path / "inputs.npz", **inputs)
    np.save(tmp_path / "expected.npy", model.predict(inputs, verbose=0))
    write_run_readme(str(run), "agnet", "agnet-train")
    lines = [line for line in (run / "README.txt").read_text().splitlines()
             if line.startswith("model.keras")]
    assert len(lines) == 1, lines
    said = re.search(r"`([^`]*)`", lines[0]).group(1)
    statements = [part.strip() for part in said.split(";")]
    assert statements == ["import common", "keras.saving.load_model(path)"], said
    setup = f"import keras\npath = r'{run / 'model.keras'}'\n"
    plain = _fresh(setup + statements[1], tmp_path)
    assert plain.returncode != 0 and "Could not locate class" in plain.stderr, plain.stderr[-2000:]
    check = (f"{setup}{statements[0]}\nmodel = {statements[1]}\nimport numpy as np\n"
             f"inputs = dict(np.load(r'{tmp_path / 'inputs.npz'}'))\n"
             "np.testing.assert_allclose(model.predict(inputs, verbose=0), "
             f"np.load(r'{tmp_path / 'expected.npy'}'), rtol=1e-6)\n")
    done = _fresh(check, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
