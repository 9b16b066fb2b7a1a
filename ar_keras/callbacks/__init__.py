"""Keras callbacks: samples in TensorBoard and files, a line per epoch, mid-epoch resume, NaN stop.

Bits per dimension are a model metric (``bits_per_dim``, ``val_bits_per_dim``)
and reach TensorBoard through `keras.callbacks.TensorBoard`; `SampleLogger`
adds what a person wants to look at, rendered by the model's event modality
(``model.event.modality``: image, vector, features, video, audio, text).

`ResumableBackup` and `StopOnNaN` make a long run survive preemption and
divergence: a backup every N steps that a restarted run resumes *mid-epoch*
(same weights, optimizer state and data position as an uninterrupted run, with
`ar_keras.data.resumable_dataset`), and a clear stop naming the step where the
loss stopped being finite.

==================  ==========================================
module              callbacks
==================  ==========================================
``sample_logger``   `SampleLogger` (one renderer per modality)
``epoch_line``      `EpochLine`
``resume``          `ResumableBackup`
``nan``             `StopOnNaN`
==================  ==========================================

Example (``model``, ``ds`` and ``val`` a model and its training and validation data)::

    >>> import keras, ar_keras as ark
    >>> model.fit(ds, epochs=20, validation_data=val, callbacks=[  # doctest: +SKIP
    ...     ark.callbacks.SampleLogger(log_dir="runs/pcnn"),
    ...     keras.callbacks.TensorBoard("runs/pcnn")])
    >>> # tensorboard --logdir runs  -> IMAGES tab, "samples"
    >>> # audio models: AUDIO tab and samples_epoch_NNN.wav; byte models: TEXT tab and .txt
"""

from ar_keras.callbacks.epoch_line import EpochLine
from ar_keras.callbacks.nan import StopOnNaN
from ar_keras.callbacks.resume import ResumableBackup
from ar_keras.callbacks.sample_logger import SampleLogger

__all__ = ["SampleLogger", "EpochLine", "ResumableBackup", "StopOnNaN"]
