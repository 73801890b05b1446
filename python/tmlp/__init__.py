"""tmlp: fast multilayer perceptrons for tabular data on multicore CPUs.

    import tmlp
    clf = tmlp.MLPClassifier(layers="256,128", epochs=30).fit(frame.drop(columns="y"), frame.y)
    clf.predict(new_frame)

    m = tmlp.Model.create({"n_inputs": 28, "layers": [{"units": 256}, {"units": 1,
                           "activation": "identity"}], "loss": "bce"})
    tmlp.Trainer(epochs=5, batch_size=256).fit(m, X, y)    # X: float32 rows x 28, in place
    tmlp.save(m, "a.tmlp"); m = tmlp.load("a.tmlp"); m.predict(X)

    world = tmlp.mpi_world()    # under mpirun: every rank fits alike, the same bits as one process
    tmlp.Trainer(epochs=5).fit(m, X, y, communicator=world)

Training and prediction run without the GIL on tmlp's own threads (`threads=`), never
changing process-wide settings: a threaded OpenBLAS that tmlp pins to one thread while it works
gets its previous thread count back afterwards. Errors are tmlp.Error, a ValueError, with the
one-line messages of the `tmlp` program.
"""
from ._tmlp import (Communicator, Error, Model, Predictor, Table, Trainer, __version__, flags,
                    launched_by_mpi, load, mpi_world, open_data, open_dataset, read_csv, save,
                    system, write_dataset)
from ._frames import table_from_frame
from .sklearn import MLPClassifier, MLPRegressor

Table.from_frame = staticmethod(table_from_frame)

__all__ = ["Communicator", "Error", "Model", "Predictor", "Table", "Trainer", "MLPClassifier",
           "MLPRegressor", "flags", "launched_by_mpi", "load", "mpi_world", "open_data",
           "open_dataset", "read_csv", "save", "system", "write_dataset", "table_from_frame",
           "__version__"]
