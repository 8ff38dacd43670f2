"""Binary data sets: simulated and real haplotypes, digits, bars and stripes, product Bernoulli.

References are computed independently here: a direct msprime run filtered with vectorised
numpy, ``np.loadtxt`` for the real file, scikit-learn for the digits, and brute-force
enumeration of all images for bars and stripes.
"""

import itertools
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from explorer import datasets
from explorer.datasets import bars_and_stripes, digits, genomic, product_bernoulli, read_hapt

ROOT = Path(__file__).resolve().parents[1]
REAL_HAPT = ROOT.parent / "shared" / "data" / "genomic_805snp_1000g.hapt"

# Stated in shared/data/README.md: 961 haplotypes x 805 SNPs, mean of all entries about 0.468.
REAL_SHAPE = (961, 805)
REAL_MEAN = 0.468
REAL_MEAN_TOL = 0.01
# reference/iqp.md section 10: x >= 8 sets "about a third" of the digit bits to 1.
DIGITS_ONES_RANGE = (0.2, 0.45)
MAF = 0.05  # the allele-frequency window (MAF, 1 - MAF) of reference/iqp.md section 9.3
# Adjacent SNPs are in linkage disequilibrium: their mean r^2 clearly exceeds that of SNPs
# 75 columns apart (about 0.2 against 0.03-0.07 for the simulation recipe).
LD_RATIO = 2.0
N_SE = 5.0  # Monte Carlo tolerance in standard errors


@pytest.fixture(scope="module")
def haplotypes():
    """The explorer's largest genomic instance: 150 SNPs of 1000 haplotypes."""
    return genomic(150, n_samples=1000, rng=0)


def _column_keys(x):
    return {x[:, j].tobytes() for j in range(x.shape[1])}


# --------------------------------------------------------------------------- imports


def test_importing_datasets_pulls_in_no_optional_extras():
    code = ("import explorer.datasets, sys; "
            "print([m for m in ('msprime', 'sklearn', 'matplotlib') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]", out.stdout


# --------------------------------------------------------------------------- msprime


def test_simulated_haplotypes_have_the_asked_shape_and_are_binary(haplotypes):
    assert haplotypes.shape == (1000, 150)
    assert haplotypes.dtype == np.uint8
    assert set(np.unique(haplotypes).tolist()) <= {0, 1}


def test_simulated_snps_are_common_and_distinct(haplotypes):
    freq = haplotypes.mean(axis=0)
    assert np.all((freq > MAF) & (freq < 1 - MAF)), freq.min()  # also excludes constant columns
    assert np.unique(haplotypes, axis=1).shape[1] == haplotypes.shape[1], "duplicate columns"
    complements = _column_keys(1 - haplotypes) & _column_keys(haplotypes)
    assert not complements, "a column equals the complement of another"


def _first_region_usable_sites(n_samples, seed):
    """The documented recipe run directly and filtered with vectorised numpy.

    The first two draws of the generator seed the first 2 Mb region's ancestry and mutations.
    """
    msprime = pytest.importorskip("msprime")
    ancestry_seed, mutation_seed = np.random.default_rng(seed).integers(1, 2**31 - 1, size=2)
    ts = msprime.sim_ancestry(samples=n_samples // 2, ploidy=2, sequence_length=2e6,
                              recombination_rate=1e-8, population_size=1e4,
                              random_seed=int(ancestry_seed))
    ts = msprime.sim_mutations(ts, rate=1.2e-8, random_seed=int(mutation_seed))
    g = ts.genotype_matrix().T  # haplotypes x sites
    freq = (g != 0).mean(axis=0)
    usable = (g.max(axis=0) <= 1) & (freq > MAF) & (freq < 1 - MAF)
    x = g[:, usable].astype(np.uint8)
    canonical = x ^ x[:1]  # a column and its complement look alike once row 0 is zeroed
    _, first = np.unique(canonical, axis=1, return_index=True)
    return x[:, np.sort(first)]


def test_simulated_snps_are_the_first_usable_sites_of_a_direct_msprime_run():
    n_samples, n_snps, seed = 300, 60, 11
    expected = _first_region_usable_sites(n_samples, seed)[:, :n_snps]
    assert expected.shape[1] == n_snps  # one region is enough for the comparison to be exact
    np.testing.assert_array_equal(genomic(n_snps, n_samples=n_samples, rng=seed), expected)


def test_more_snps_than_one_region_holds_come_from_further_regions():
    n_samples, seed, extra = 20, 2, 50
    first_region = _first_region_usable_sites(n_samples, seed)
    n_snps = first_region.shape[1] + extra
    x = genomic(n_snps, n_samples=n_samples, rng=seed)
    assert x.shape == (n_samples, n_snps)
    np.testing.assert_array_equal(x[:, : first_region.shape[1]], first_region)
    freq = x.mean(axis=0)
    assert np.all((freq > MAF) & (freq < 1 - MAF))
    keys = _column_keys(x)
    assert len(keys) == n_snps, "duplicate columns across regions"
    assert not keys & _column_keys(1 - x), "complementary columns across regions"


def test_simulated_columns_are_in_genome_order_with_linkage_disequilibrium(haplotypes):
    r2 = np.corrcoef(haplotypes.T.astype(float)) ** 2
    adjacent, distant = np.mean(np.diag(r2, 1)), np.mean(np.diag(r2, 75))
    assert adjacent > LD_RATIO * distant, (adjacent, distant)


def test_simulation_is_reproducible_from_the_seed(haplotypes):
    np.testing.assert_array_equal(genomic(150, n_samples=1000, rng=0), haplotypes)
    np.testing.assert_array_equal(
        genomic(150, n_samples=1000, rng=np.random.default_rng(0)), haplotypes
    )
    assert not np.array_equal(genomic(150, n_samples=1000, rng=1), haplotypes)


def test_smaller_instances_are_the_first_columns_of_larger_ones(haplotypes):
    np.testing.assert_array_equal(genomic(40, n_samples=1000, rng=0), haplotypes[:, :40])


def test_odd_sample_counts_return_exactly_that_many_haplotypes():
    x = genomic(5, n_samples=7, rng=3)
    assert x.shape == (7, 5)
    assert np.all((x.sum(axis=0) > 0) & (x.sum(axis=0) < 7))


def test_too_few_usable_snps_raise_with_the_count_found():
    # Two haplotypes admit a single common SNP up to complement: (0, 1).
    with pytest.raises(ValueError, match=r"n_snps .* found 1, got n_snps = 5"):
        genomic(5, n_samples=2, rng=0)


def test_a_cached_simulation_is_kept_and_read_back_without_simulating(tmp_path, monkeypatch):
    fresh = datasets.genomic(12, n_samples=60, rng=7)
    first = datasets.genomic(12, n_samples=60, rng=7, cache=tmp_path / "c")
    np.testing.assert_array_equal(first, fresh)
    (kept,) = (tmp_path / "c").glob("*.npy")

    def refuse(*args):
        raise AssertionError("simulated although the cache holds the array")

    monkeypatch.setattr(datasets, "_simulate_haplotypes", refuse)
    np.testing.assert_array_equal(datasets.genomic(12, n_samples=60, rng=7, cache=tmp_path / "c"),
                                  fresh)
    with pytest.raises(AssertionError, match="simulated"):     # other sizes are other files
        datasets.genomic(13, n_samples=60, rng=7, cache=tmp_path / "c")
    monkeypatch.undo()
    kept.write_bytes(b"not an npy file")                       # corrupt: simulated again
    np.testing.assert_array_equal(datasets.genomic(12, n_samples=60, rng=7, cache=tmp_path / "c"),
                                  fresh)
    np.testing.assert_array_equal(np.load(kept), fresh)
    generator = np.random.default_rng(7)                       # no integer seed: no file
    datasets.genomic(12, n_samples=60, rng=generator, cache=tmp_path / "g")
    assert not (tmp_path / "g").exists()


def test_missing_msprime_says_which_extra_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "msprime", None)
    with pytest.raises(ImportError, match=re.escape("pip install .[genomics]")):
        genomic(10, rng=0)


# --------------------------------------------------------------------------- .hapt files

TINY_HAPT = (
    "Real HG00001_A 0 1 1 0\n"
    "Real HG00001_B\t1 1 0 0\r\n"
    "\n"
    "Real HG00002_A 0 0 0 1   \n"
)
TINY_VALUES = [[0, 1, 1, 0], [1, 1, 0, 0], [0, 0, 0, 1]]


@pytest.fixture
def tiny_hapt(tmp_path):
    path = tmp_path / "tiny.hapt"
    path.write_bytes(TINY_HAPT.encode())
    return path


def test_hapt_values_are_parsed_exactly(tiny_hapt):
    expected = np.array(TINY_VALUES, dtype=np.uint8)
    got = read_hapt(tiny_hapt)
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(genomic(4, source=tiny_hapt), expected)
    np.testing.assert_array_equal(genomic(2, source=str(tiny_hapt)), expected[:, :2])
    np.testing.assert_array_equal(genomic(3, source=tiny_hapt, n_samples=2), expected[:2, :3])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Real A 0 1 1\nReal B 0 1\n", r"line 2: .*same number of values \(3.*got 2 \(ragged"),
        ("Real A 0 1 1\nReal B 0 2 1\n", r"line 2: values must be 0 or 1; got '2'"),
        ("Real A 0 1 1\nReal B 0 01 1\n", r"line 2: values must be 0 or 1; got '01'"),
        ("Real A 0 1 1\nReal B 0 x 1\n", r"line 2: values must be 0 or 1; got 'x'"),
        ("Real A\n", r"line 1: expected a group tag, a sample id and 0/1 values"),
        ("\n\n", r"no haplotypes"),
    ],
    ids=["ragged", "value-2", "two-digit-token", "letter", "no-values", "empty"],
)
def test_malformed_hapt_files_raise_naming_the_problem(tmp_path, text, message):
    path = tmp_path / "bad.hapt"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        read_hapt(path)
    with pytest.raises(ValueError, match=message):
        genomic(1, source=path)


def test_asking_a_file_for_more_than_it_holds_raises_with_the_numbers(tiny_hapt):
    with pytest.raises(ValueError, match=r"n_snps must be <= 4, .*; got 5"):
        genomic(5, source=tiny_hapt)
    with pytest.raises(ValueError, match=r"n_samples must be <= 3, .*; got 4"):
        genomic(2, source=tiny_hapt, n_samples=4)


@pytest.mark.parametrize("n_snps", [805, 150])
def test_real_1000_genomes_panel(n_snps):
    if not REAL_HAPT.is_file():
        pytest.skip(f"{REAL_HAPT} is absent")
    x = genomic(n_snps, source=REAL_HAPT)
    assert x.shape == (REAL_SHAPE[0], n_snps)
    assert x.dtype == np.uint8
    reference = np.loadtxt(REAL_HAPT, usecols=range(2, 2 + REAL_SHAPE[1]), dtype=np.uint8)
    assert reference.shape == REAL_SHAPE
    np.testing.assert_array_equal(x, reference[:, :n_snps])
    if n_snps == REAL_SHAPE[1]:
        assert abs(x.mean() - REAL_MEAN) < REAL_MEAN_TOL


# --------------------------------------------------------------------------- digits


@pytest.mark.parametrize("threshold", [1, 8, 16])
def test_digits_are_sklearn_digits_thresholded(threshold):
    sk_datasets = pytest.importorskip("sklearn.datasets")
    expected = sk_datasets.load_digits().data >= threshold
    x = digits(threshold)
    assert x.shape == (1797, 64)
    assert x.dtype == np.uint8
    np.testing.assert_array_equal(x, expected)


def test_default_digits_threshold_sets_about_a_third_of_the_bits():
    lo, hi = DIGITS_ONES_RANGE
    assert lo < digits().mean() < hi


def test_missing_scikit_learn_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match="pip install scikit-learn"):
        digits()


# --------------------------------------------------------------------------- bars and stripes


def _is_bar_or_stripe(image):
    rows_constant = np.all(image == image[:, :1])
    columns_constant = np.all(image == image[:1, :])
    return rows_constant or columns_constant


@pytest.mark.parametrize(("h", "w"), [(1, 1), (1, 5), (2, 2), (2, 3), (3, 2), (3, 4), (4, 4)])
def test_bars_and_stripes_are_exactly_the_valid_images(h, w):
    x = bars_and_stripes(h, w)
    assert x.dtype == np.uint8
    assert x.shape == (2**h + 2**w - 2, h * w)
    assert all(_is_bar_or_stripe(row.reshape(h, w)) for row in x)
    assert len(_column_keys(x.T)) == len(x), "rows are not unique"
    assert np.any(np.all(x == 0, axis=1)) and np.any(np.all(x == 1, axis=1))
    # Brute force: every h x w binary image, kept when it is a bar or a stripe.
    everything = itertools.product((0, 1), repeat=h * w)
    valid = {bytes(bits) for bits in everything
             if _is_bar_or_stripe(np.array(bits, dtype=np.uint8).reshape(h, w))}
    assert _column_keys(x.T) == valid


def test_largest_bars_and_stripes():
    x = bars_and_stripes(4, 6)
    assert x.shape == (2**4 + 2**6 - 2, 24)


# --------------------------------------------------------------------------- product Bernoulli


def test_product_bernoulli_matches_its_means():
    means = np.array([0.0, 0.1, 0.5, 0.9, 1.0])
    n = 20_000
    x = product_bernoulli(means, n, rng=4)
    assert x.shape == (n, means.size) and x.dtype == np.uint8
    assert np.all(x[:, 0] == 0) and np.all(x[:, -1] == 1)
    se = np.sqrt(means * (1 - means) / n)
    assert np.all(np.abs(x.mean(axis=0) - means) <= N_SE * se + 1e-12)
    # Independence: the empirical correlation of the two fair-ish bits is within noise.
    r = np.corrcoef(x[:, 1:4].T.astype(float))
    assert np.all(np.abs(r[np.triu_indices(3, 1)]) <= N_SE / np.sqrt(n))


def test_product_bernoulli_is_reproducible_from_the_seed():
    means = [0.3, 0.6, 0.5]
    np.testing.assert_array_equal(product_bernoulli(means, 50, rng=9),
                                  product_bernoulli(means, 50, rng=9))
    assert not np.array_equal(product_bernoulli(means, 50, rng=9),
                              product_bernoulli(means, 50, rng=10))


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: genomic(0), r"n_snps must be an integer in \[1, 100000\]; got 0"),
        (lambda: genomic(2.5), r"n_snps must be an integer in \[1, 100000\]; got 2.5"),
        (lambda: genomic(10, source="plink"),
         r"source must be 'msprime' or the path of an existing \.hapt file; got 'plink'"),
        (lambda: genomic(10, source=42), r"source must be 'msprime' or .*; got 42"),
        (lambda: genomic(10, n_samples=1), r"n_samples must be an integer in \[2, 100000\]; got 1"),
        (lambda: digits(0), r"threshold must be an integer in \[1, 16\]; got 0"),
        (lambda: digits(17), r"threshold must be an integer in \[1, 16\]; got 17"),
        (lambda: digits(8.5), r"threshold must be an integer in \[1, 16\]; got 8.5"),
        (lambda: bars_and_stripes(0, 3), r"h must be an integer >= 1; got 0"),
        (lambda: bars_and_stripes(3, -1), r"w must be an integer >= 1; got -1"),
        (lambda: bars_and_stripes(5, 5), r"h \* w must be <= 24 .*; got 5 \* 5 = 25"),
        (lambda: product_bernoulli([0.5, 1.2], 10), r"means entries must be in \[0, 1\]; got 1.2"),
        (lambda: product_bernoulli([], 10), r"means must hold at least one"),
        (lambda: product_bernoulli([0.5], 0), r"n_samples must be an integer >= 1; got 0"),
    ],
    ids=["n_snps-0", "n_snps-float", "source-unknown", "source-type", "n_samples-1",
         "threshold-0", "threshold-17", "threshold-float", "h-0", "w-negative", "h*w-large",
         "means-range", "means-empty", "n_samples-0"],
)
def test_bad_input_raises_naming_the_parameter(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_missing_file_raises_naming_the_parameter(tmp_path):
    missing = tmp_path / "missing.hapt"
    with pytest.raises(ValueError, match=r"source must be 'msprime' or .*\(no such file\)"):
        genomic(10, source=missing)
    with pytest.raises(ValueError, match=r"path must be the path of an existing file"):
        read_hapt(missing)


def test_the_iqp_app_keeps_its_simulation_in_the_machines_cache(tmp_path, monkeypatch):
    from explorer.apps import iqp_app

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    data = iqp_app.load_data.__wrapped__("genomic (msprime)", 8)
    (kept,) = (tmp_path / "explorer-data").glob("genomic_*.npy")
    np.testing.assert_array_equal(np.load(kept), data)
    np.testing.assert_array_equal(data, genomic(8, rng=2026))
