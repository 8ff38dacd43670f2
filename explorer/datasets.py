"""Binary data sets for training IQP quantum circuit Born machines.

Every loader returns a ``uint8`` array of shape ``(samples, bits)`` holding 0/1,
one row per training sample and one column per qubit.

- :func:`genomic`: human-like SNP haplotypes. The IQP initialization paper
  (Lerch et al.) trains on the first ``n`` SNP columns of the 805-SNP
  1000 Genomes panel of Yelmen et al.; that file cannot be downloaded offline,
  so the default source simulates haplotypes with msprime (coalescent with
  recombination, then mutations), and a path to a real ``.hapt`` file reads the
  panel itself (see :func:`read_hapt`).
- :func:`digits`: scikit-learn's bundled 8 x 8 handwritten digits, thresholded
  to 64 bits (no download).
- :func:`bars_and_stripes`: the classic exhaustive benchmark of Born machines,
  small enough to enumerate exactly.
- :func:`product_bernoulli`: independent bits with given means, the one
  distribution an IQP circuit with only single-qubit gates represents exactly
  (the centre of the data-dependent initialization), so a trained model can be
  checked against a known answer.

msprime and scikit-learn are optional and imported only by the function that
needs them; this module itself needs only numpy.

References
----------
.. [1] E. Lerch, J. Bowles, R. Puig, E. Armengol, Z. Holmes, S. Thanasilp,
   "IQP Born machines under data-dependent and agnostic initialization
   strategies", arXiv:2603.14576.
.. [2] B. Yelmen et al., "Creating artificial human genomes using generative
   neural networks", PLoS Genetics 17:e1009303 (2021). The 805-SNP panel.
.. [3] F. Baumdicker et al., "Efficient ancestry and mutation simulation with
   msprime 1.0", Genetics 220:iyab229 (2022).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from ._common import as_rng, cached_array, check_array, check_int

__all__ = ["bars_and_stripes", "digits", "genomic", "product_bernoulli", "read_hapt"]

# The simulation recipe of the variance-vs-n reproduction (reference/iqp.md section 9.3):
# human-like effective population size, recombination and mutation rates per base pair.
_SEQUENCE_LENGTH = 2e6
_RECOMBINATION_RATE = 1e-8
_MUTATION_RATE = 1.2e-8
_POPULATION_SIZE = 1e4
# 1000 simulated haplotypes yield about 2000 usable SNPs per 2 Mb region; this many regions
# (64 Mb in all) cover any panel size a Born machine can use.
_MAX_REGIONS = 32
# Time and memory of the simulation grow with the sample count; beyond this a typo in a
# widget would stall the kernel rather than produce a data set anyone trains on.
_MAX_SIMULATED_HAPLOTYPES = 100_000
# Common SNPs only: rare variants give nearly constant qubits, which carry no correlations.
_MIN_ALLELE_FREQUENCY = 0.05

_DEFAULT_SIMULATED_SAMPLES = 1000
_SOURCES = "'msprime' or the path of an existing .hapt file"


def genomic(
    n_snps: int,
    *,
    source: str | os.PathLike = "msprime",
    n_samples: int | None = None,
    rng: Any = None,
    cache: str | os.PathLike | None = None,
) -> np.ndarray:
    """SNP haplotypes: simulated with msprime, or the first SNP columns of a ``.hapt`` file.

    Parameters
    ----------
    n_snps : int
        Number of SNP columns (qubits), in [1, 100000]. The first ``n_snps`` usable SNPs in
        genome order are returned, as the paper uses the first ``n`` columns.
    source : {"msprime"} or str or path-like, default "msprime"
        ``"msprime"`` simulates haplotypes (needs the ``genomics`` extra);
        anything else must be the path of an existing ``.hapt`` file.
    n_samples : int, optional
        Number of haplotypes (rows). For ``"msprime"``: default 1000, in
        ``[2, 100000]``. For a file: default all rows; otherwise the first
        ``n_samples`` rows, at most the number in the file.
    rng : seed or Generator, optional
        Seeds the simulation (unused for a file): the same seed gives the same
        array.
    cache : str or path-like, optional
        A folder (created if missing) where a simulation seeded with an integer is
        kept as ``.npy`` and read back by later calls, in this process or another:
        the app's kernels simulate once per machine. Reading back skips importing
        msprime, which takes 1.5-2 s (most of it spent by a dependency of tskit that
        builds a URI grammar on import), while the simulation itself takes about
        0.1 s. Ignored for a file or a seed that is not an integer; an unreadable
        cache file is simulated again and replaced.

    Returns
    -------
    ndarray of uint8, shape (n_samples, n_snps)
        0/1 haplotypes. Simulated data encode 0 = ancestral, 1 = derived allele;
        the ``.hapt`` panel encodes 0 = minor, 1 = major allele.

    Raises
    ------
    ValueError
        On a bad ``n_snps``, ``n_samples`` or ``source``; when a file is
        malformed or has fewer rows or SNP columns than asked for; when the
        simulation yields fewer than ``n_snps`` usable SNPs even after
        simulating more regions (the message says how many it found).
    ImportError
        When ``source="msprime"`` and msprime is not installed.

    Notes
    -----
    The simulation follows reference/iqp.md section 9.3: ``ceil(n_samples / 2)``
    diploid individuals from ``msprime.sim_ancestry`` (2 Mb, recombination
    rate 1e-8, population size 1e4) with mutations at rate 1.2e-8 per base
    pair; each region's two integer seeds (ancestry, mutations) are drawn
    from ``rng``. A site is usable when, among the returned haplotypes,

    - it is biallelic: sites where a second derived allele occurs are dropped,
      because a SNP panel such as the 1000 Genomes one holds biallelic SNPs and
      folding two derived alleles into one bit would invent a variant;
    - its derived allele frequency lies in (0.05, 0.95), which also removes
      constant columns;
    - it is neither identical nor complementary (``x_j = 1 - x_k``) to an
      earlier usable site. Coalescent data have many such perfectly linked
      pairs; a pair with ``|corr| = 1`` sets ``max |C_kl|`` in the covariance
      initialization of the IQP model and so shrinks every other pair angle,
      and a duplicated qubit adds no information.

    When one 2 Mb region holds fewer than ``n_snps`` usable SNPs, further
    independent 2 Mb regions (as on other chromosomes) are simulated, up to 32,
    with fresh seeds, and their usable SNPs appended. Independent regions cost
    time linear in their number, whereas the cost of one longer region grows
    about quadratically with its length. Because the sites are scanned in order,
    ``genomic(m, rng=s)`` equals the first ``m`` columns of ``genomic(n, rng=s)``
    for ``m <= n``, as the paper's ``n``-qubit instances are nested.

    References
    ----------
    Lerch et al., arXiv:2603.14576 (genomic experiments, first ``n`` SNPs);
    Yelmen et al., PLoS Genet. 17:e1009303 (2021) (the 805-SNP panel);
    Baumdicker et al., Genetics 220:iyab229 (2022) (msprime).

    Examples
    --------
    >>> x = genomic(20, n_samples=100, rng=0)
    >>> x.shape, x.dtype, bool(np.array_equal(x, genomic(20, n_samples=100, rng=0)))
    ((100, 20), dtype('uint8'), True)
    """
    n_snps = check_int("n_snps", n_snps, 1, 100_000)
    if isinstance(source, str) and source == "msprime":
        if n_samples is None:
            n_samples = _DEFAULT_SIMULATED_SAMPLES
        n_samples = check_int("n_samples", n_samples, 2, _MAX_SIMULATED_HAPLOTYPES)
        if cache is None or not isinstance(rng, (int, np.integer)) or isinstance(rng, bool):
            return _simulate_haplotypes(n_snps, n_samples, as_rng(rng))
        return _cached_simulation(Path(cache), n_snps, n_samples, int(rng))

    path = _existing_file(source)
    if n_samples is not None:
        n_samples = check_int("n_samples", n_samples, 1)
    data = read_hapt(path)
    n_rows, n_cols = data.shape
    if n_snps > n_cols:
        raise ValueError(f"n_snps must be <= {n_cols}, the SNP columns in {path.name}; "
                         f"got {n_snps}")
    if n_samples is not None and n_samples > n_rows:
        raise ValueError(f"n_samples must be <= {n_rows}, the haplotypes in {path.name}; "
                         f"got {n_samples}")
    return np.ascontiguousarray(data[:n_samples, :n_snps])


def read_hapt(path: str | os.PathLike) -> np.ndarray:
    """Read a ``.hapt`` haplotype file into a 0/1 array.

    Each non-blank line holds, whitespace separated, a group tag (e.g. ``Real``),
    a sample id (e.g. ``HG00097_A``) and then one 0/1 value per SNP.

    Parameters
    ----------
    path : str or path-like
        The file.

    Returns
    -------
    ndarray of uint8, shape (haplotypes, snps)
        The values, one row per line; the tags and ids are dropped.

    Raises
    ------
    ValueError
        When the file does not exist, has no data line, has lines with different
        numbers of values, or holds a value other than 0 or 1; the message names
        the line (1-based) and what was found.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = Path(tmp) / "tiny.hapt"
    ...     _ = path.write_text("Real A_1 0 1 1\\nReal A_2 1 0 1\\n")
    ...     read_hapt(path).tolist()
    [[0, 1, 1], [1, 0, 1]]
    """
    path = _existing_file(path, name="path")
    rows: list[np.ndarray] = []
    n_values = None
    with path.open("rb") as handle:
        for line_no, line in enumerate(handle, start=1):
            tokens = line.split()
            if not tokens:
                continue
            values = tokens[2:]
            if not values:
                raise ValueError(f"{path.name} line {line_no}: expected a group tag, a sample "
                                 f"id and 0/1 values; got {len(tokens)} field(s)")
            if n_values is None:
                n_values = len(values)
            elif len(values) != n_values:
                raise ValueError(f"{path.name} line {line_no}: every line must hold the same "
                                 f"number of values ({n_values}, as the first data line); "
                                 f"got {len(values)} (ragged rows)")
            # One byte per token when all are single characters: far faster than int() per value.
            joined = b"".join(values)
            bits = np.frombuffer(joined, dtype=np.uint8) - np.uint8(ord("0"))
            if len(joined) != n_values or np.any(bits > 1):
                bad = next(v for v in values if v not in (b"0", b"1"))
                raise ValueError(f"{path.name} line {line_no}: values must be 0 or 1; "
                                 f"got {bad.decode(errors='replace')!r}")
            rows.append(bits)
    if not rows:
        raise ValueError(f"{path.name} holds no haplotypes (no non-blank line)")
    return np.stack(rows)


def digits(threshold: int = 8) -> np.ndarray:
    """scikit-learn's 8 x 8 handwritten digits, binarised: 1797 samples of 64 bits.

    Parameters
    ----------
    threshold : int, default 8
        A pixel (intensity 0..16) becomes 1 when it is ``>= threshold``; in
        ``[1, 16]``. The default sets about a third of the bits to 1.

    Returns
    -------
    ndarray of uint8, shape (1797, 64)
        Row-major pixels of each image.

    Raises
    ------
    ValueError
        On a bad ``threshold``.
    ImportError
        When scikit-learn is not installed.

    Notes
    -----
    The images ship with scikit-learn, so no download is needed. Several
    border pixels are 0 in every image; such constant qubits make the
    data-dependent initialization put ``theta_i`` exactly at 0.

    Examples
    --------
    >>> x = digits()
    >>> x.shape, x.dtype
    ((1797, 64), dtype('uint8'))
    """
    threshold = check_int("threshold", threshold, 1, 16)
    try:
        from sklearn.datasets import load_digits
    except ImportError as err:
        raise ImportError("digits() needs scikit-learn: pip install scikit-learn") from err
    return (load_digits().data >= threshold).astype(np.uint8)


def bars_and_stripes(h: int, w: int) -> np.ndarray:
    """Every h x w bars-and-stripes image, flattened row-major to ``h * w`` bits.

    An image is a *stripe* when each of its rows is constant and a *bar* when
    each of its columns is constant. The all-0 and all-1 images are both, and
    appear once, so there are ``2**h + 2**w - 2`` images.

    Parameters
    ----------
    h, w : int
        Image height and width, each >= 1, with ``h * w <= 24``.

    Returns
    -------
    ndarray of uint8, shape (2**h + 2**w - 2, h * w)
        First the ``2**h`` stripe images, ordered by their row values read as a
        binary number (top row most significant), then the non-constant bars in
        the same order of their column values.

    Raises
    ------
    ValueError
        On a bad ``h`` or ``w``.

    Examples
    --------
    >>> bars_and_stripes(2, 2).tolist()
    [[0, 0, 0, 0], [0, 0, 1, 1], [1, 1, 0, 0], [1, 1, 1, 1], [0, 1, 0, 1], [1, 0, 1, 0]]
    """
    h = check_int("h", h, 1)
    w = check_int("w", w, 1)
    if h * w > 24:
        raise ValueError(f"h * w must be <= 24 (bits per image); got {h} * {w} = {h * w}")
    stripe_rows = _binary_codes(h)
    stripes = np.repeat(stripe_rows[:, :, None], w, axis=2)
    bar_columns = _binary_codes(w)[1:-1]  # all-0 and all-1 are already among the stripes
    bars = np.repeat(bar_columns[:, None, :], h, axis=1)
    return np.concatenate([stripes.reshape(-1, h * w), bars.reshape(-1, h * w)])


def product_bernoulli(means: Any, n_samples: int, *, rng: Any = None) -> np.ndarray:
    """Independent bits: bit ``i`` of every sample is 1 with probability ``means[i]``.

    This is the distribution of an IQP circuit with single-qubit gates only
    (``theta_i = arcsin(sqrt(means[i]))``), so a Born machine has an exact target.

    Parameters
    ----------
    means : array_like, shape (n_bits,)
        Probabilities of a 1, each in ``[0, 1]``; ``n_bits >= 1``.
    n_samples : int
        Number of samples (rows), >= 1.
    rng : seed or Generator, optional

    Returns
    -------
    ndarray of uint8, shape (n_samples, n_bits)

    Raises
    ------
    ValueError
        On bad ``means`` or ``n_samples``.

    Examples
    --------
    >>> product_bernoulli([0.0, 1.0, 0.5], 4, rng=0)[:, :2].tolist()
    [[0, 1], [0, 1], [0, 1], [0, 1]]
    """
    means = check_array("means", means, ndim=1, lo=0.0, hi=1.0)
    if means.size == 0:
        raise ValueError("means must hold at least one probability; got an empty array")
    n_samples = check_int("n_samples", n_samples, 1)
    rng = as_rng(rng)
    return (rng.random((n_samples, means.size)) < means).astype(np.uint8)


# --------------------------------------------------------------------------- helpers


def _existing_file(source: Any, name: str = "source") -> Path:
    """The path ``source`` names, or a ``ValueError`` saying what is accepted."""
    allowed = _SOURCES if name == "source" else "the path of an existing file"
    if not isinstance(source, str | os.PathLike):
        raise ValueError(f"{name} must be {allowed}; got {source!r}")
    path = Path(source).expanduser()
    if not path.is_file():
        raise ValueError(f"{name} must be {allowed}; got {str(source)!r} (no such file)")
    return path


def _binary_codes(n: int) -> np.ndarray:
    """All ``2**n`` bit strings of length ``n`` in counting order, most significant bit first."""
    codes = np.arange(2**n)[:, None]
    return ((codes >> np.arange(n - 1, -1, -1)) & 1).astype(np.uint8)


#: Part of each cache file's name: change it whenever the simulation recipe changes.
_RECIPE = "r1"


def _cached_simulation(folder: Path, n_snps: int, n_samples: int, seed: int) -> np.ndarray:
    """:func:`genomic`'s msprime simulation, read from ``folder`` or simulated and kept."""
    return cached_array(folder / f"genomic_{_RECIPE}_{n_samples}x{n_snps}_seed{seed}.npy",
                        lambda: _simulate_haplotypes(n_snps, n_samples, as_rng(seed)),
                        shape=(n_samples, n_snps), dtype=np.uint8)


def _simulate_haplotypes(n_snps: int, n_samples: int, rng: np.random.Generator) -> np.ndarray:
    try:
        import msprime
    except ImportError as err:
        raise ImportError('genomic(source="msprime") needs msprime: '
                          "pip install .[genomics] (or pip install msprime)") from err
    seen: set[bytes] = set()
    columns: list[np.ndarray] = []
    for _ in range(_MAX_REGIONS):
        ancestry_seed, mutation_seed = (int(seed) for seed in rng.integers(1, 2**31 - 1, size=2))
        ancestry = msprime.sim_ancestry(
            samples=math.ceil(n_samples / 2),
            ploidy=2,
            sequence_length=_SEQUENCE_LENGTH,
            recombination_rate=_RECOMBINATION_RATE,
            population_size=_POPULATION_SIZE,
            random_seed=ancestry_seed,
        )
        ts = msprime.sim_mutations(ancestry, rate=_MUTATION_RATE, random_seed=mutation_seed)
        columns += _usable_sites(ts, n_samples, n_snps - len(columns), seen)
        if len(columns) == n_snps:
            return np.ascontiguousarray(np.stack(columns, axis=1))
    raise ValueError(
        f"n_snps must be at most the usable SNPs msprime produced for n_samples = {n_samples} "
        f"in {_MAX_REGIONS} regions of {_SEQUENCE_LENGTH:.3g} bp: found {len(columns)}, "
        f"got n_snps = {n_snps} (more haplotypes give more distinct common SNPs)"
    )


def _usable_sites(ts: Any, n_samples: int, n_wanted: int, seen: set[bytes]) -> list[np.ndarray]:
    """Up to ``n_wanted`` usable sites of ``ts`` in genome order (see :func:`genomic`'s Notes).

    ``seen`` holds the keys of the sites kept so far (also from earlier regions) and is
    updated in place.
    """
    lo, hi = _MIN_ALLELE_FREQUENCY * n_samples, (1 - _MIN_ALLELE_FREQUENCY) * n_samples
    columns: list[np.ndarray] = []
    # Site by site with early exit: only the kept columns are ever copied, instead of an
    # int32 sites x haplotypes genotype matrix.
    for variant in ts.variants(samples=ts.samples()[:n_samples], copy=False):
        genotypes = variant.genotypes
        if genotypes.max() > 1:
            continue
        derived = np.count_nonzero(genotypes)
        if not lo < derived < hi:
            continue
        # Flipping to a leading 0 makes a column and its complement share one key.
        key = np.packbits(genotypes != genotypes[0]).tobytes()
        if key in seen:
            continue
        seen.add(key)
        columns.append(genotypes.astype(np.uint8))
        if len(columns) == n_wanted:
            break
    return columns
