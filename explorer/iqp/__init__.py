r"""IQP quantum circuit Born machines trained with the MMD loss, classically.

Model (Lerch, Bowles, Puig, Armengol, Holmes & Thanasilp, arXiv:2603.14576): the circuit
H^n exp(i sum_j theta_j Z^{g_j}) H^n on |0^n> defines a distribution q_theta over n-bit strings,
fitted to data by minimising MMD^2 with a Gaussian kernel. Its Z-correlators are averages over
uniform bit strings, so the loss and its gradient are estimated without a quantum computer at
any n (Recio-Armengol & Bowles, arXiv:2501.04776). How the angles start decides whether the
loss landscape is flat (a barren plateau) or trainable.

Modules: ``_circuit`` (gate sets, exact distributions and correlators for n <= 20),
``_phases`` (dense and structured phase computations and the Monte Carlo correlator estimator
``expval``), ``_mmd`` (exact MMD^2 and the unbiased estimator with its analytic gradient),
``_init`` (the paper's initialization strategies), ``_train`` (optimizers, training, loss
variance). Imports run one way: ``_circuit`` <- ``_phases`` <- ``_mmd`` <- the rest.
Derivations and conventions: the project's reference/iqp.md.
"""

from ._circuit import (
    GATE_SETS,
    exact_expval,
    exact_probs,
    gate_matrix,
    gate_set,
    local_gates,
    nearest_neighbour_gates,
)
from ._init import NORMALISATIONS, STRATEGIES, init_params
from ._landscape import loss_slice, low_order_statistics
from ._mmd import (
    BANDWIDTHS,
    bandwidth,
    empirical_distribution,
    mmd2,
    mmd2_exact,
    operator_probability,
    sigma_for_mean_weight,
)
from ._phases import expval
from ._train import OPTIMIZERS, LossVariance, adam, loss_variance, running_mean, sgd, train

__all__ = [
    "BANDWIDTHS",
    "GATE_SETS",
    "bandwidth",
    "gate_set",
    "OPTIMIZERS",
    "LossVariance",
    "adam",
    "loss_variance",
    "running_mean",
    "sgd",
    "train",
    "NORMALISATIONS",
    "STRATEGIES",
    "empirical_distribution",
    "exact_expval",
    "exact_probs",
    "expval",
    "gate_matrix",
    "init_params",
    "local_gates",
    "loss_slice",
    "low_order_statistics",
    "mmd2",
    "mmd2_exact",
    "nearest_neighbour_gates",
    "operator_probability",
    "sigma_for_mean_weight",
]
