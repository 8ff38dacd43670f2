r"""NTK fine-tuning from a pretrained (non-random) start, with data-driven early stopping.

Model (Sun & Raskutti, arXiv:2602.13942, on Raskutti, Wainwright & Yu, JMLR 2014): in the lazy
regime, gradient descent with step alpha from pretrained weights theta0 is kernel gradient
descent with the empirical NTK at theta0, started from the pretrained predictor f0,

.. math:: F_{t+1} = F_t - \alpha K_n (F_t - y),\qquad K_n = J J^\top / n,\quad F_0 = f_0(X),

so everything is diagonal in the eigenbasis of K_n. Initialization quality enters through the
residual f* - f0 and its RKHS norm R; the stopping time T_hat comes from the eigenvalues, the
noise sigma and R. Symbols: ``lam`` the eigenvalues of K_n (descending), ``coef`` the residual
coefficients u_i = (U^T (f* - f0)(X))_i / sqrt(n), ``alpha`` the step, ``t`` the number of steps.

Modules: ``_kernel`` (spectra, risk curves, the closed-form predictor, stopping times, rates),
``_riskfn`` (the risk of one spectrum and step factored once, for live apps)
and ``_attention`` (a single-head attention read-out with hand-written gradients, its empirical
NTK and task vectors). Derivations: the project's reference/ntk.md.
"""

from ._kernel import (
    KINDS,
    KRR,
    PredictFn,
    Prediction,
    RateSweep,
    RiskCurve,
    StoppingTime,
    decay_exponent,
    gd_path,
    krr_equivalent,
    krr_risk,
    oracle_time,
    predict_fn,
    rate_sweep,
    risk_curve,
    rkhs_norm,
    spectrum,
    step_size,
    stopping_time,
    target_coefficients,
    theoretical_slopes,
)

__all__ = [
    "KINDS",
    "KRR",
    "PredictFn",
    "Prediction",
    "RateSweep",
    "RiskCurve",
    "StoppingTime",
    "decay_exponent",
    "gd_path",
    "krr_equivalent",
    "krr_risk",
    "oracle_time",
    "predict_fn",
    "rate_sweep",
    "risk_curve",
    "rkhs_norm",
    "spectrum",
    "step_size",
    "stopping_time",
    "target_coefficients",
    "theoretical_slopes",
]

from ._attention import AttentionModel  # noqa: E402
from ._riskfn import RiskFn, risk_fn  # noqa: E402
from ._setups import (  # noqa: E402
    THETA0,
    AttentionKernel,
    LanguageModelKernel,
    attention_kernel,
    attention_theta0,
    language_model_kernel,
    synthetic_tasks,
    task_experiment,
)
from ._taskvectors import TaskVectors, task_vectors  # noqa: E402

__all__ += [
    "RiskFn",
    "risk_fn",
    "THETA0",
    "AttentionKernel",
    "AttentionModel",
    "TaskVectors",
    "attention_kernel",
    "attention_theta0",
    "LanguageModelKernel",
    "language_model_kernel",
    "synthetic_tasks",
    "task_experiment",
    "task_vectors",
]
