"""One worker of tests/train/test_multiworker.py (run as a subprocess, not collected by pytest).

    python multiworker_worker.py INDEX PORT0,PORT1 IN.npz OUT.npz

Sets ``TF_CONFIG`` (worker ``INDEX`` of ``localhost:PORT0, localhost:PORT1``) before TensorFlow
starts, creates `MultiWorkerMirroredStrategy`, and for every model named in ``IN.npz``: builds
its tiny preset in the strategy's scope, loads the initial weights the test wrote, and runs
``model.fit`` with SGD on ``x`` batched by the *global* batch (auto-shard policy DATA, as
``python -m train --strategy multiworker`` does).  It writes, per model, its final weights, the
rows of each global batch this worker received, and the logs of the last step.
"""

import json
import os
import sys


def main(index, ports, src, dst):
    os.environ["TF_CONFIG"] = json.dumps(
        {
            "cluster": {"worker": [f"localhost:{p}" for p in ports.split(",")]},
            "task": {"type": "worker", "index": int(index)},
        }
    )
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import numpy as np
    import tensorflow as tf

    import ar_keras as ark

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    assert ark.distribute.is_multi_worker(strategy) and strategy.num_replicas_in_sync == 2
    data = np.load(src)
    batch, lr = int(data["batch"]), float(data["lr"])
    out = {"chief": np.array(ark.distribute.is_chief(strategy))}
    for name in [str(n) for n in data["names"]]:
        x = data[f"{name}/x"]
        with strategy.scope():
            model = ark.models.get(name, preset="tiny")
            for i, w in enumerate(model.weights):
                w.assign(data[f"{name}/w{i}"])
            model.compile(optimizer=keras.optimizers.SGD(lr))
        ds = ark.distribute.shard_by_data(tf.data.Dataset.from_tensor_slices(x).batch(batch))
        seen = [
            np.concatenate([np.asarray(t) for t in strategy.experimental_local_results(b)])
            for b in strategy.experimental_distribute_dataset(ds)
        ]
        history = model.fit(ds, epochs=1, verbose=0)
        out[f"{name}/seen"] = np.stack(seen)  # [steps, batch / workers, ...]
        out[f"{name}/loss"] = np.array(history.history["loss"][-1])
        out[f"{name}/bits_per_dim"] = np.array(history.history["bits_per_dim"][-1])
        for i, w in enumerate(model.weights):
            out[f"{name}/w{i}"] = np.asarray(w.numpy())
    np.savez(dst, **out)
    print(f"worker {index} done", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:5])
