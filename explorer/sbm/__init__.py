r"""Two-class stochastic blockmodel, mean-field BCAVI: the population (expected-graph) dynamics.

Model (Mukherjee, Sarkar, Wang & Yan, NeurIPS 2018): n nodes in two equal
communities, edges with probability p inside and q < p across. The mean-field
posterior :math:`\psi_i = Q(i \in C_1)` is updated in parallel (BCAVI) by

.. math:: \psi^+ = \sigma\bigl(4t\,(A - \lambda(J - I))(\psi - \tfrac12)\bigr),

with :math:`t = \tfrac12\log\frac{p(1-q)}{q(1-p)}` and
:math:`2t\lambda = \log\frac{1-q}{1-p}`. Replacing A by its expectation, the
block-constant states :math:`\psi = (x 1_m, y 1_m)`, m = n/2, are invariant and
carry every critical point; on them the update is the exact 2-D map

.. math::
    x^+ = \sigma(4t[(m-1)(p-\lambda)(x-\tfrac12) + m(q-\lambda)(y-\tfrac12)]),\quad
    y^+ = \sigma(4t[m(q-\lambda)(x-\tfrac12) + (m-1)(p-\lambda)(y-\tfrac12)]).

Symbols: ``t``, ``lam`` are the paper's t, lambda; ``x``, ``y`` the block
means of psi. The truth is (1, 0) or its label swap (0, 1). The derivations
(population reduction, ELBO on the block plane) are in the project's
``reference/sbm.md``, sections 2 to 5; they are derived, not quoted from the paper.

Modules: ``_population`` (the exact 2-D population map, its runs and basins) and
``_sample`` (sampled graphs, (p, q) from the average degree, expected edge counts, the ELBO,
the M-step and BCAVI on a graph or the expected graph). Everything public is re-exported here.
"""

from ._landscape import (
    FixedPoint,
    bifurcation_diagram,
    fixed_points,
    misspecified_success,
    thresholds,
)
from ._population import (
    LIMIT_KINDS,
    Basins,
    basin_shares,
    basin_shares_job,
    basins,
    classify_limits,
    constants,
    population_elbo,
    population_map,
    population_matrix,
    population_run,
    truth_threshold,
)
from ._sample import (
    SCHEDULES,
    accuracy,
    bcavi,
    elbo,
    expected_density,
    expected_edges,
    expected_graph,
    m_step,
    pq_from_degree,
    sample_graph,
)
from ._starts import (
    COLLAPSED,
    DYNAMICS,
    INITS,
    SUCCESS_METHODS,
    TRUTH_ACCURACY,
    escape_share,
    escape_threshold,
    first_sweep_guess,
    initial_psi,
    joint_population_map,
    success_curve,
    success_probability,
    truth_gap,
)

__all__ = [
    "COLLAPSED",
    "DYNAMICS",
    "TRUTH_ACCURACY",
    "escape_share",
    "first_sweep_guess",
    "truth_gap",
    "INITS",
    "LIMIT_KINDS",
    "SUCCESS_METHODS",
    "escape_threshold",
    "initial_psi",
    "joint_population_map",
    "success_curve",
    "success_probability",
    "SCHEDULES",
    "Basins",
    "accuracy",
    "expected_density",
    "expected_edges",
    "expected_graph",
    "misspecified_success",
    "FixedPoint",
    "basin_shares",
    "basin_shares_job",
    "basins",
    "bcavi",
    "classify_limits",
    "constants",
    "elbo",
    "bifurcation_diagram",
    "fixed_points",
    "m_step",
    "population_elbo",
    "population_map",
    "population_matrix",
    "population_run",
    "pq_from_degree",
    "sample_graph",
    "thresholds",
    "truth_threshold",
]
