"""`SampleLogger`: samples every few epochs in TensorBoard and files, one renderer per modality.

The renderer is chosen by the model's event modality (``model.event.modality``,
`ar_keras.core.events.MODALITIES`), nothing else:

=============  =====================================================  ==========================
modality       what is drawn                                          written
=============  =====================================================  ==========================
``image``      a grid of ``num_samples`` images                       IMAGES, ``.png``
``vector``     2-d: a scatter picture; more: the vectors as images    IMAGES, ``.png``
``features``   each trajectory ``[T, F]`` as a heat map               IMAGES, ``.png``
``video``      one strip of frames per sample                         IMAGES, ``.png``
``audio``      ``audio_clips`` mu-law clips, decoded, 0.1 s apart     AUDIO, ``.wav``
``text``       ``audio_clips`` byte samples decoded as UTF-8          TEXT, ``.txt``
=============  =====================================================  ==========================

Example (``model``, ``ds`` a model and its data)::

    >>> import keras, ar_keras as ark
    >>> model.fit(ds, epochs=20, callbacks=[  # doctest: +SKIP
    ...     ark.callbacks.SampleLogger(log_dir="runs/pcnn"), keras.callbacks.TensorBoard("runs/pcnn")])
    >>> # tensorboard --logdir runs  -> IMAGES tab, "samples"
"""

import os

import keras
import numpy as np
import tensorflow as tf

from ar_keras.data.mu_law import mu_law_decode
from ar_keras.data.wav import write_wav
from ar_keras.visualize import image_grid, save_png

__all__ = ["SampleLogger", "RENDERERS"]


class _Renderer:
    """Draws the samples of one modality, summarises them and writes them to a file.

    ``draw(logger)`` -> the samples as that modality shows them; ``summary`` writes
    them to the default TensorBoard writer; ``write`` to ``stem + suffix``;
    ``last`` is the logger's attribute that holds the latest file.
    """

    suffix = ".png"
    last = "last_png"

    def draw(self, logger):
        raise NotImplementedError

    def summary(self, logger, drawn, step):
        tf.summary.image("samples", drawn[None], step=step)  # [H, W, 3] -> [1, H, W, 3]

    def write(self, logger, drawn, path):
        return save_png(drawn, path)


class _Images(_Renderer):
    def draw(self, logger):
        return image_grid(logger.sample(logger.num_samples), logger.model.num_levels)


class _Vectors(_Renderer):
    def draw(self, logger):
        from ar_keras.flows.pictures import sample_picture

        return sample_picture(logger.model, logger.num_samples, logger.seed, logger.temperature)


class _Features(_Renderer):
    def draw(self, logger):
        x = logger.sample(logger.num_samples, logger.length or 64)  # [n, T, F]
        low, high = np.percentile(x, 1), np.percentile(x, 99)
        levels = np.clip((x - low) / max(high - low, 1e-6) * 255, 0, 255).astype(np.int32)
        return image_grid(np.transpose(levels, (0, 2, 1))[..., None], 256, columns=1)  # [n, F, T, 1]


class _Video(_Renderer):
    def draw(self, logger):
        x = logger.sample(logger.num_samples)
        n, T, H, W, C = x.shape
        strips = np.transpose(x, (0, 2, 1, 3, 4)).reshape(n, H, T * W, C)  # [n, T, H, W, C] -> [n, H, T W, C]
        return image_grid(strips, logger.model.num_levels, columns=1)


class _Audio(_Renderer):
    suffix = ".wav"
    last = "last_wav"

    def draw(self, logger):
        codes = logger.sample(logger.audio_clips, logger.length or logger.rate // 2)
        return mu_law_decode(codes, logger.model.num_levels).numpy()  # [n, T] in [-1, 1]

    def summary(self, logger, drawn, step):
        tf.summary.audio(
            "samples", drawn[..., None], logger.rate, step=step, max_outputs=len(drawn)
        )  # [n, T] -> [n, T, 1]

    def write(self, logger, drawn, path):
        gap = np.zeros([logger.rate // 10], np.float32)  # 0.1 s of silence
        joined = np.concatenate([part for clip in drawn for part in (clip, gap)][:-1])
        return write_wav(path, joined, logger.rate)


class _Text(_Renderer):
    suffix = ".txt"
    last = "last_text"

    def draw(self, logger):
        # 256 bytes, or fewer for a model of shorter sequences (a Sparse Transformer's max_length).
        codes = logger.sample(logger.audio_clips, logger.length or min(256, logger.model.max_length or 256))
        return [bytes(int(b) % 256 for b in row).decode("utf-8", errors="replace") for row in codes]

    def summary(self, logger, drawn, step):
        tf.summary.text("samples", tf.constant(drawn), step=step)

    def write(self, logger, drawn, path):
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n\n----\n\n".join(drawn))
        return path


#: modality -> its renderer (`ar_keras.core.events.MODALITIES`).
RENDERERS = {
    "image": _Images(),
    "vector": _Vectors(),
    "features": _Features(),
    "video": _Video(),
    "audio": _Audio(),
    "text": _Text(),
}


class SampleLogger(keras.callbacks.Callback):
    """Draws samples every few epochs and writes them where a person would look.

    What is written follows the model's event modality (``model.event.modality``;
    the module docstring has the table): a picture in TensorBoard IMAGES and
    ``samples_epoch_NNN.png`` for images, vectors, feature trajectories and
    videos; clips in TensorBoard AUDIO and ``.wav`` for audio; text in
    TensorBoard TEXT and ``.txt`` for bytes.  Plus ``samples_latest.*``.  The
    seed is fixed, so successive epochs show the same noise passing through a
    model that learns.  Class-conditional models get labels ``0, 1, 2, ...``
    cycled over the samples.

    Args:
        log_dir: TensorBoard directory (summaries in ``log_dir/samples``).
        num_samples: samples per picture (images, vectors, features, video).
        every_n_epochs: sampling period.
        seed: sampling seed.
        temperature: sampling temperature.
        write_png: also write files (PNG, WAV or TXT).
        audio_clips: sequences drawn per epoch (audio and text; each is thousands of steps).
        length: sequences: steps per sample; default half a second of audio
            (``rate // 2``), 256 bytes (at most the model's ``max_length``) or 64 frames.
        sample_rate: audio: Hz to play the clips at; default the event's ``sample_rate``.
        conditional: the ``conditional`` of the drawn samples; default labels
            ``0, 1, 2, ...`` for class-conditional models.

    Example:
        >>> import ar_keras as ark
        >>> logger = ark.callbacks.SampleLogger("runs/x")
        >>> logger.set_model(ark.models.get("wavenet", preset="tiny"))
        >>> logger.modality, logger.rate
        ('audio', 16000)
    """

    def __init__(
        self,
        log_dir,
        num_samples=16,
        every_n_epochs=1,
        seed=0,
        temperature=1.0,
        write_png=True,
        audio_clips=4,
        length=None,
        sample_rate=None,
        conditional=None,
    ):
        super().__init__()
        self.log_dir = log_dir
        self.num_samples = int(num_samples)
        self.every_n_epochs = int(every_n_epochs)
        self.seed = int(seed)
        self.temperature = float(temperature)
        self.write_png = bool(write_png)
        self.audio_clips = int(audio_clips)
        self.length = None if length is None else int(length)
        self.sample_rate = None if sample_rate is None else int(sample_rate)
        self.conditional = conditional
        self._writer = None
        self.last_png = None
        self.last_wav = None
        self.last_text = None

    # ------------------------------------------------------------- modality
    @property
    def modality(self):
        """The model's event modality: ``image``, ``vector``, ``features``, ``video``, ``audio``
        or ``text``."""
        modality = self.model.event.modality
        if modality not in RENDERERS:
            raise ValueError(
                f"SampleLogger draws the modalities {sorted(RENDERERS)}; {type(self.model).__name__}'s "
                f"event {self.model.event!r} has modality {modality!r}. Give its event spec a modality "
                "(ar_keras.core.events.MODALITIES)."
            )
        return modality

    @property
    def is_audio(self):
        return self.modality == "audio"

    @property
    def rate(self):
        """Audio: samples per second of the written clips (``sample_rate``, else the event's)."""
        return self.sample_rate or self.model.event.sample_rate or 16000

    @property
    def _renderer(self):
        return RENDERERS[self.modality]

    def _labels(self, count=None):
        if self.conditional is not None:
            return self.conditional
        classes = self.model.num_classes
        if not classes:
            return None
        return np.arange(count or self.num_samples, dtype=np.int32) % classes

    def sample(self, count, length=None):
        """``count`` samples of the model (numpy), with this logger's seed, temperature and labels."""
        return self.model.sample(
            count,
            conditional=self._labels(count),
            seed=self.seed,
            temperature=self.temperature,
            length=length,
        ).numpy()

    # --------------------------------------------------------------- drawing
    def draw(self):
        """The current samples as the modality shows them: a picture uint8 ``[H, W, 3]``
        (images, vectors, features, video), clips float32 ``[audio_clips, T]`` in
        ``[-1, 1]`` (audio) or a list of ``audio_clips`` strings (text)."""
        return self._renderer.draw(self)

    def draw_audio(self):
        """The current clips: float32 ``[audio_clips, length]`` in ``[-1, 1]``."""
        return RENDERERS["audio"].draw(self)

    def draw_text(self):
        """The current byte samples decoded as text: a list of ``audio_clips`` strings."""
        return RENDERERS["text"].draw(self)

    # --------------------------------------------------------------- writing
    def write_final(self, path_stem):
        """Writes the current samples next to ``path_stem`` (``.png``, ``.wav`` or ``.txt``)."""
        renderer = self._renderer
        return renderer.write(self, renderer.draw(self), path_stem + renderer.suffix)

    def _summary_writer(self):
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(os.path.join(self.log_dir, "samples"))
        return self._writer

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every_n_epochs:
            return
        renderer, step = self._renderer, epoch + 1
        drawn = renderer.draw(self)
        with self._summary_writer().as_default():
            renderer.summary(self, drawn, step)
        self._writer.flush()
        if not self.write_png:
            return
        stem = os.path.join(self.log_dir, f"samples_epoch_{step:03d}")
        setattr(self, renderer.last, renderer.write(self, drawn, stem + renderer.suffix))
        renderer.write(self, drawn, os.path.join(self.log_dir, "samples_latest") + renderer.suffix)

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None
