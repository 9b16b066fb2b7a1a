"""The constructor vocabulary: one word for one thing across every model.

Every model's constructor uses the same names for the same quantities, after
keras-hub (``hidden_dim``, ``intermediate_dim``, ``num_heads``, ``key_dim``)
and TensorFlow Probability (``hidden_units``, a list of layer widths):

=========================================  ==========================================
concept                                    name
=========================================  ==========================================
main width (an int)                        ``hidden_dim``
widths of a stack of layers (a list)       ``hidden_units``
width of a part (an int)                   ``<part>_dim`` (``output_dim``, ``encoder_dim``)
depth                                      ``num_layers``; ``num_blocks`` where blocks
                                           hold several layers; ``num_<part>_layers``
attention                                  ``num_heads``, ``key_dim``, ``value_dim``
feed-forward width                         ``intermediate_dim``
mixture components                         ``num_mixtures``
latent size                                ``latent_dim``
convolution                                ``kernel_size``, ``dilations``
non-linearity                              ``activation``
output distribution                        ``head``
regularisation                             ``dropout``
data                                       ``image_shape``, ``video_shape``,
                                           ``max_length``, ``event_size``,
                                           ``num_features``, ``num_levels``
conditioning                               ``num_classes``
=========================================  ==========================================

Paper terms stay where a paper names distinct quantities: WaveNet's residual,
gate and skip channels, PixelCNN++'s hierarchies, ByteNet's unfolding factors.

`RENAMED` lists, per registry name, the names a constructor used to take; an
old name is an error that names the new one (no aliases are kept).

Example:
    >>> from ar_keras.core import vocabulary
    >>> vocabulary.check_renamed("gated_pixelcnn", {"num_filters": 64})
    Traceback (most recent call last):
    ...
    TypeError: gated_pixelcnn takes hidden_dim=, not num_filters= (renamed: pass hidden_dim=64).
"""

__all__ = ["RENAMED", "check_renamed"]

#: registry name -> {old argument name: new argument name}.
RENAMED = {
    "nade": {"hidden_units": "hidden_dim"},
    "made": {},
    "rnade": {"hidden_units": "hidden_dim", "num_components": "num_mixtures"},
    "maf": {"num_components": "num_mixtures"},
    "iaf": {},
    "iaf_vae": {
        "hidden_size": "hidden_dim",
        "z_size": "latent_dim",
        "depth": "num_scales",
        "iaf_steps": "num_flow_steps",
        "iaf_hidden_units": "flow_hidden_units",
    },
    "pixelvae": {
        "levels": "num_latent_layers",
        "encoder_filters": "encoder_dim",
        "encoder_downsamples": "num_encoder_downsamples",
        "num_filters": "hidden_dim",
        "output_filters": "output_dim",
        "latent_map_channels": "latent_map_dim",
        "prior_layers": "num_prior_layers",
        "prior_filters": "prior_dim",
    },
    "gated_pixelcnn": {"num_filters": "hidden_dim", "output_filters": "output_dim"},
    "pixelcnn_pp": {"num_filters": "hidden_dim", "num_resnet": "num_layers"},
    "pixelsnail": {
        "num_filters": "hidden_dim",
        "num_resnet": "num_layers",
        "key_size": "key_dim",
        "value_size": "value_dim",
        "nonlinearity": "activation",
    },
    "pixelrnn": {"hidden_units": "hidden_dim", "output_units": "output_dim"},
    "spatial_lstm": {
        "num_units": "hidden_dim",
        "nb_size": "neighbourhood_size",
        "output_units": "output_dim",
        "num_components": "num_mixtures",
        "num_features": "num_mixture_features",
    },
    "multiscale": {
        "filters": "hidden_dim",
        "base_filters": "base_dim",
        "base_layers": "num_base_layers",
        "head_filters": "output_dim",
    },
    "subscale": {
        "num_filters": "hidden_dim",
        "output_filters": "output_dim",
        "cond_filters": "conditioning_dim",
        "cond_layers": "num_conditioning_layers",
        "cond_kernel_size": "conditioning_kernel_size",
    },
    "image_transformer": {"hidden_size": "hidden_dim", "filter_size": "intermediate_dim"},
    "sparse_transformer": {"width": "hidden_dim", "ff_dim": "intermediate_dim"},
    "vpn": {
        "channels": "hidden_dim",
        "decoder_blocks": "num_decoder_blocks",
        "lstm_filters": "lstm_dim",
        "loss": "head",
    },
    "bytenet": {"hidden_channels": "hidden_dim"},
    "wavenet": {"output_channels": "output_dim"},
    "wavernn": {"hidden_units": "hidden_dim", "output_units": "output_dim"},
    "samplernn": {"dim": "hidden_dim", "rnn_layers": "num_layers", "mlp_dim": "intermediate_dim"},
    "trajectory_rnade": {"hidden_units": "hidden_dim", "num_components": "num_mixtures"},
}


def check_renamed(name, kwargs):
    """Raises a TypeError naming the new argument when ``kwargs`` holds an old name of model ``name``.

    Args:
        name: a registry name.
        kwargs: the constructor arguments a model was given.
    """
    renamed = RENAMED.get(name, {})
    for old, value in kwargs.items():
        new = renamed.get(old)
        if new is not None:
            raise TypeError(f"{name} takes {new}=, not {old}= (renamed: pass {new}={value!r}).")
