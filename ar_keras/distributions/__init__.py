"""Heads: network outputs -> per-element distributions, log-probabilities in float32."""

from ar_keras.distributions.bernoulli import Bernoulli
from ar_keras.distributions.categorical import Categorical
from ar_keras.distributions.dual_softmax import DualSoftmax
from ar_keras.distributions.gaussian_mixture import GaussianMixture
from ar_keras.distributions.logistic_mixture import DiscretizedLogisticMixture
from ar_keras.distributions.mcgsm import MCGSM, MCGSMParameters
from ar_keras.distributions.sigmoid_xent import SigmoidCrossEntropy


def head_for_levels(num_levels, binary_as_bernoulli=True):
    """The natural head for K levels: Bernoulli for K = 2 (if asked), else categorical."""
    if num_levels == 2 and binary_as_bernoulli:
        return Bernoulli()
    return Categorical(num_levels)


__all__ = [
    "Bernoulli",
    "Categorical",
    "DualSoftmax",
    "DiscretizedLogisticMixture",
    "GaussianMixture",
    "MCGSM",
    "MCGSMParameters",
    "SigmoidCrossEntropy",
    "head_for_levels",
]
