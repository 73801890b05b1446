"""tmlp.Trainer across MPI ranks from Python: `mpirun -np R python3 script` with
tmlp.mpi_world() ends with the parameters of one process, bit for bit."""
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import tmlp

SCRIPT = r'''
import sys
import numpy as np
import tmlp
world = tmlp.mpi_world(timeout=60)
rng = np.random.default_rng(5)
x = rng.standard_normal((2000, 12)).astype(np.float32)
y = (x[:, 0] * x[:, 1] + x[:, 2] > 0).astype(np.float32)
m = tmlp.Model.create({"n_inputs": 12, "layers": [
    {"units": 64, "activation": "relu", "batch_norm": True, "dropout": 0.1},
    {"units": 1, "activation": "identity"}], "loss": "bce", "seed": 2})
report = tmlp.Trainer(epochs=3, batch_size=256, valid_fraction=0.2, seed=4, threads=1).fit(
    m, x, y, communicator=world if len(sys.argv) > 2 else None)
if world.rank == 0:
    np.save(sys.argv[1], m.parameters)
    print(world, report["epochs"][-1]["valid_loss"])
'''


def test_ranks_from_python_give_one_process_parameters(tmp_path):
    mpirun = shutil.which("mpirun")
    if mpirun is None:
        pytest.skip("no mpirun")
    script = tmp_path / "fit.py"
    script.write_text(SCRIPT)
    # The package this test imported; root in a container and more ranks than cores allowed.
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(tmlp.__file__))))
    one = tmp_path / "one.npy"
    subprocess.run([sys.executable, str(script), str(one)], check=True, env=env, timeout=120)
    for ranks in (2, 3):
        out = tmp_path / f"r{ranks}.npy"
        run = subprocess.run([mpirun, "--oversubscribe", "--bind-to", "none", "-np", str(ranks),
                              sys.executable, str(script), str(out), "distributed"],
                             env=env, timeout=120, capture_output=True, text=True)
        if run.returncode != 0 and "built without MPI" in run.stderr:
            pytest.skip("this build has no MPI")
        assert run.returncode == 0, run.stderr
        assert f"rank 0 of {ranks}" in run.stdout
        assert np.load(one).tobytes() == np.load(out).tobytes(), ranks


def test_mpi_world_arguments_are_checked():
    with pytest.raises(tmlp.Error, match="timeout"):
        tmlp.mpi_world(timeout=0)
    assert isinstance(tmlp.launched_by_mpi(), bool)
