"""What the unconditional VAEs of images share: the check of their image shape, and no labels.

The IAF-VAE (Kingma et al., NIPS 2016) and the PixelVAE (Gulrajani et al., ICLR 2017)
model images ``(H, W, C)`` without class labels; each halves the image sides ``n`` times
somewhere (the ResNet's scales, the encoder's stride-2 convolutions), so H and W must
be divisible by ``2^n``.

Example:
    >>> image_shape_for("iaf_vae", [8, 8, 1], None, halvings=2, what="num_scales")
    (8, 8, 1)
    >>> image_shape_for("iaf_vae", (6, 6, 1), None, halvings=2, what="num_scales")
    Traceback (most recent call last):
    ...
    ValueError: image_shape (6, 6, 1): H and W must be divisible by 2**num_scales = 4.
"""

import numpy as np

__all__ = ["UnconditionalImages", "image_shape_for"]


def image_shape_for(name, image_shape, num_classes, halvings=0, what=None):
    """The ``(H, W, C)`` tuple of model ``name``, refusing labels, other ranks and sides that
    ``halvings`` halvings (counted by the argument ``what``) would not divide."""
    if num_classes is not None:
        raise ValueError(f"{name} is unconditional: num_classes must be None.")
    shape = tuple(int(s) for s in np.atleast_1d(image_shape))
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"image_shape must be (H, W, C) of positive sizes, got {image_shape!r}.")
    factor = 2**halvings
    if shape[0] % factor or shape[1] % factor:
        raise ValueError(f"image_shape {shape}: H and W must be divisible by 2**{what} = {factor}.")
    return shape


class UnconditionalImages:
    """Mixin of a `LatentVariableModel` of images that takes no labels: its input check
    refuses a ``conditional``."""

    def _check(self, x, conditional, validate_values=True):
        if conditional is not None:
            raise ValueError(
                f"{self.registry_name} is unconditional: conditional must be None (it takes no labels)."
            )
        return super()._check(x, None, validate_values)
