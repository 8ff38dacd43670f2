"""explorer: how initialization decides where optimization ends up.

Backends (numpy/scipy only, no UI imports):

- :mod:`explorer.sbm`: two-class stochastic blockmodel, mean-field BCAVI
  (Mukherjee, Sarkar, Wang & Yan, NeurIPS 2018).
- :mod:`explorer.sweep`: many independent jobs, serially or on any executor.

The widget apps live in :mod:`explorer.apps` and are imported only on demand.
"""

from ._common import Status, Trajectory

__all__ = ["Status", "Trajectory", "__version__"]
__version__ = "0.1.0"
