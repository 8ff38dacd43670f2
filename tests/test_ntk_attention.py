"""Single-head attention eNTK and task vectors (reference/ntk.md sections 3, 5, 7.5, 8.10).

References are independent of the code under test: central finite differences of ``forward``,
a per-example loop implementation of the forward pass and of the softmax Jacobian written here
in plain numpy, the closed-form block kernels of section 3, explicit matrix powers for the
task-vector recursion, and gradient descent run in parameter space on the linearised model.
"""

import math

import numpy as np
import pytest

from explorer.ntk._attention import BLOCKS, POOLINGS, AttentionModel
from explorer.ntk._taskvectors import task_vectors

FD_STEP = 1e-6  # central-difference step h
FD_RTOL = 1e-6  # max |J - J_fd| / max |J_fd| (section 8.10)
EXACT_RTOL = 1e-12  # identities that hold to machine precision
PSD_RTOL = 1e-10  # min eigenvalue >= -PSD_RTOL * max eigenvalue
LINEAR_TOL = 1e-10  # linearised-model identities (several matrix products apart)
ZERO_TOL = 1e-12  # "exactly zero" cross kernels

D, D_K, D_V, L, N = 5, 3, 4, 6, 4


def rel_err(a, b):
    return np.max(np.abs(np.asarray(a) - np.asarray(b))) / np.max(np.abs(b))


def inputs(n, seq_len=L, d=D, seed=0):
    return np.random.default_rng(seed).standard_normal((n, seq_len, d))


# --------------------------------------------------------------------------- independent reference


def ref_pool(pooling, seq_len):
    p = np.zeros(seq_len)
    if pooling == "mean":
        p[:] = 1.0 / seq_len
    elif pooling == "last":
        p[seq_len - 1] = 1.0
    else:
        p[0] = 1.0
    return p


def ref_softmax(row):
    e = np.exp(row - np.max(row))
    return e / np.sum(e)


def ref_single(model, x):
    """Per-example forward pass with explicit loops: attention, value scores, a_bar and f."""
    seq_len = x.shape[0]
    Q, K, V = x @ model.W_Q, x @ model.W_K, x @ model.W_V
    A = np.zeros((seq_len, seq_len))
    for i in range(seq_len):
        scores = [np.dot(Q[i], K[j]) / math.sqrt(model.d_k) for j in range(seq_len)]
        A[i] = ref_softmax(np.array(scores))
    p = ref_pool(model.pooling, seq_len)
    pooled_value = sum(p[i] * sum(A[i, j] * V[j] for j in range(seq_len)) for i in range(seq_len))
    a_bar = sum(p[i] * sum(A[i, j] * x[j] for j in range(seq_len)) for i in range(seq_len))
    return {"Q": Q, "K": K, "A": A, "p": p, "v": V @ model.w, "a_bar": a_bar,
            "f": float(np.dot(model.w, pooled_value))}


def ref_query_key_grads(model, x):
    """dW_Q = M W_K / sqrt(d_k), dW_K = M^T W_Q / sqrt(d_k), M = x^T G_S x (section 3 form)."""
    r = ref_single(model, x)
    A, p, v = r["A"], r["p"], r["v"]
    seq_len = x.shape[0]
    G = np.zeros((seq_len, seq_len))
    for i in range(seq_len):
        row_mean = sum(A[i, j] * v[j] for j in range(seq_len))
        for m in range(seq_len):
            G[i, m] = p[i] * A[i, m] * (v[m] - row_mean)
    M = x.T @ G @ x
    return M @ model.W_K / math.sqrt(model.d_k), M.T @ model.W_Q / math.sqrt(model.d_k)


def finite_difference_jacobian(model, X):
    theta = model.theta
    J = np.empty((X.shape[0], theta.size))
    for i in range(theta.size):
        step = np.zeros_like(theta)
        step[i] = FD_STEP
        J[:, i] = (model.with_theta(theta + step).forward(X)
                   - model.with_theta(theta - step).forward(X)) / (2 * FD_STEP)
    return J


# --------------------------------------------------------------------------- forward and Jacobian


@pytest.mark.parametrize("pooling", POOLINGS)
def test_forward_matches_loop_reference(pooling):
    model = AttentionModel(D, D_K, D_V, pooling=pooling, rng=1)
    X = inputs(N)
    expected = [ref_single(model, x)["f"] for x in X]
    assert rel_err(model.forward(X), expected) < EXACT_RTOL
    single = model.forward(X[1])
    assert single.shape == () and abs(float(single) - expected[1]) < EXACT_RTOL * abs(expected[1])


def test_forward_is_stable_for_large_scores():
    # Scores of order 1e3 overflow a naive exp(); the shifted softmax stays finite.
    model = AttentionModel(D, D_K, D_V, rng=2)
    big = model.with_theta(np.concatenate([1e3 * model.theta[: 2 * D * D_K],
                                           model.theta[2 * D * D_K:]]))
    assert np.all(np.isfinite(big.forward(inputs(N))))
    assert np.all(np.isfinite(big.jacobian(inputs(N))))


@pytest.mark.parametrize("pooling", POOLINGS)
def test_jacobian_matches_central_finite_differences(pooling):
    model = AttentionModel(D, D_K, D_V, pooling=pooling, rng=3)
    X = inputs(N, seed=4)
    J_fd = finite_difference_jacobian(model, X)
    J = model.jacobian(X)
    assert J.shape == (N, 2 * D * D_K + D * D_V + D_V)
    assert rel_err(J, J_fd) < FD_RTOL
    for block, s in model.block_slices().items():
        assert rel_err(model.jacobian(X, blocks=(block,)), J_fd[:, s]) < FD_RTOL, block
    # Any order of blocks is normalised to q, k, v, w; a single input gives one row.
    chosen = model.block_slices(("w", "q"))
    J_wq = model.jacobian(X, blocks=("w", "q"))
    assert rel_err(J_wq, np.hstack([J_fd[:, model.block_slices()[b]] for b in chosen])) < FD_RTOL
    assert rel_err(model.jacobian(X[2]), J[2]) < EXACT_RTOL


# --------------------------------------------------------------------------- eNTK


def test_entk_is_symmetric_psd_and_sums_its_block_kernels():
    model = AttentionModel(D, D_K, D_V, rng=5)
    X = inputs(15, seed=6)
    K = model.entk(X)
    assert np.array_equal(K, K.T)
    eig = np.linalg.eigvalsh(K)
    assert eig.min() > -PSD_RTOL * eig.max()
    parts = model.block_kernels(X)
    assert list(parts) == list(BLOCKS)
    assert rel_err(sum(parts.values()), K) < EXACT_RTOL
    for subset in [("q", "k"), ("v",), ("k", "w", "v")]:
        assert rel_err(model.entk(X, blocks=subset), sum(parts[b] for b in subset)) < EXACT_RTOL

    # Cross kernel between sequences of different lengths.
    X2 = inputs(7, seq_len=3, seed=7)
    K12 = model.entk(X, X2)
    assert K12.shape == (15, 7)
    assert rel_err(sum(model.block_kernels(X, X2).values()), K12) < EXACT_RTOL


@pytest.mark.parametrize("pooling", POOLINGS)
def test_block_kernels_match_section3_closed_forms(pooling):
    model = AttentionModel(D, D_K, D_V, pooling=pooling, rng=8)
    X1, X2 = inputs(5, seed=9), inputs(3, seq_len=4, seed=10)
    abar1 = np.array([ref_single(model, x)["a_bar"] for x in X1])
    abar2 = np.array([ref_single(model, x)["a_bar"] for x in X2])
    parts = model.block_kernels(X1, X2)
    assert rel_err(parts["v"], np.dot(model.w, model.w) * abar1 @ abar2.T) < EXACT_RTOL
    assert rel_err(parts["w"], abar1 @ model.W_V @ model.W_V.T @ abar2.T) < EXACT_RTOL
    g1 = [ref_query_key_grads(model, x) for x in X1]
    g2 = [ref_query_key_grads(model, x) for x in X2]
    theta_q = np.array([[np.sum(a[0] * b[0]) for b in g2] for a in g1])
    theta_k = np.array([[np.sum(a[1] * b[1]) for b in g2] for a in g1])
    assert rel_err(parts["q"], theta_q) < EXACT_RTOL
    assert rel_err(parts["k"], theta_k) < EXACT_RTOL


# --------------------------------------------------------------------------- parameters, training


def test_theta_round_trip_and_copies():
    model = AttentionModel(D, D_K, D_V, pooling="last", rng=11)
    theta = model.theta
    assert theta.size == model.n_params() == 2 * D * D_K + D * D_V + D_V
    assert np.array_equal(model.with_theta(theta).theta, theta)
    new = model.with_theta(np.arange(theta.size, dtype=float))
    assert np.array_equal(model.theta, theta)  # unchanged
    assert np.array_equal(new.W_Q, np.arange(D * D_K).reshape(D, D_K))
    assert np.array_equal(new.w, np.arange(theta.size - D_V, theta.size))
    assert new.pooling == "last"
    assert list(model.params) == ["q", "k", "v", "w"]
    assert np.array_equal(np.concatenate([a.ravel() for a in model.params.values()]), theta)

    head_only = model.with_theta(np.ones(D_V), blocks="w")
    assert np.array_equal(head_only.w, np.ones(D_V))
    assert np.array_equal(head_only.theta[:-D_V], theta[:-D_V])

    twin = model.copy()
    twin.W_Q[0, 0] += 1.0
    assert np.array_equal(model.theta, theta)


def test_pretrain_lowers_the_loss_without_mutating_the_start():
    teacher = AttentionModel(D, D_K, D_V, rng=12)
    student = AttentionModel(D, D_K, D_V, rng=13)
    X = inputs(16, seed=14)
    y = teacher.forward(X)
    theta0 = student.theta.copy()
    trained, losses = student.pretrain(X, y, 60, 0.5, return_losses=True)
    assert np.array_equal(student.theta, theta0)
    assert losses.shape == (61,)
    f0 = np.array([ref_single(student, x)["f"] for x in X])
    assert abs(losses[0] - 0.5 * np.mean((f0 - y) ** 2)) < EXACT_RTOL * losses[0]
    assert np.all(np.diff(losses) <= 0) and losses[-1] < 0.5 * losses[0]
    f_end = trained.forward(X)
    assert abs(losses[-1] - 0.5 * np.mean((f_end - y) ** 2)) < EXACT_RTOL * losses[-1]
    assert isinstance(student.pretrain(X, y, 3, 0.1), AttentionModel)


def test_pretrain_head_only_is_linear_least_squares_gd():
    # With only w trained, f = (a_bar W_V) w is linear in w: GD has an independent form.
    model = AttentionModel(D, D_K, D_V, rng=15)
    X, y = inputs(10, seed=16), np.random.default_rng(17).standard_normal(10)
    steps, lr = 25, 0.3
    trained = model.pretrain(X, y, steps, lr, blocks=("w",))
    features = np.array([ref_single(model, x)["a_bar"] for x in X]) @ model.W_V
    w = model.w.copy()
    for _ in range(steps):
        w = w - lr * features.T @ (features @ w - y) / len(y)
    assert rel_err(trained.w, w) < LINEAR_TOL
    for name in ("W_Q", "W_K", "W_V"):
        assert np.array_equal(getattr(trained, name), getattr(model, name))


# --------------------------------------------------------------------------- task vectors


@pytest.fixture(scope="module")
def theta0():
    """A non-random start: a model pretrained briefly on a teacher task."""
    d = 6
    teacher = AttentionModel(d, D_K, D_V, rng=20)
    X = inputs(20, d=d, seed=21)
    return AttentionModel(d, D_K, D_V, rng=22).pretrain(X, teacher.forward(X), 30, 0.5)


def overlapping_tasks(d=6):
    rng = np.random.default_rng(23)
    return [(rng.standard_normal((n, L, d)), rng.standard_normal(n)) for n in (7, 5)]


def disjoint_tasks(d=6):
    rng = np.random.default_rng(24)
    X1, X2 = rng.standard_normal((7, L, d)), rng.standard_normal((5, L, d))
    X1[:, :, d // 2:] = 0.0
    X2[:, :, : d // 2] = 0.0
    return [(X1, rng.standard_normal(7)), (X2, rng.standard_normal(5))]


def test_disjoint_inputs_with_frozen_head_do_not_interfere(theta0):
    tasks = disjoint_tasks()
    (X1, _), (X2, _) = tasks
    qkv = ("q", "k", "v")
    assert np.max(np.abs(theta0.entk(X1, X2, blocks=qkv))) < ZERO_TOL
    tv = task_vectors(theta0, tasks, steps=40, learning_rate=0.2, blocks=qkv)
    off = ~np.eye(2, dtype=bool)
    assert np.max(tv.cross_kernel_mass[off]) < ZERO_TOL
    assert np.max(tv.interference[off]) < ZERO_TOL
    assert np.min(np.diag(tv.interference)) > 1e-3  # each task did move its own predictions
    # Training the shared read-out w couples the tasks (so the check above can fail).
    coupled = task_vectors(theta0, tasks, steps=40, learning_rate=0.2)
    assert np.min(coupled.cross_kernel_mass[off]) > 1e-3
    assert np.min(coupled.interference[off]) > 1e-6


@pytest.mark.parametrize("blocks", [BLOCKS, ("q", "k"), ("v", "w")])
def test_interference_and_mass_from_the_entk(theta0, blocks):
    tasks = overlapping_tasks()
    tv = task_vectors(theta0, tasks, steps=30, learning_rate=0.1, blocks=blocks)
    assert tv.interference.shape == tv.cross_kernel_mass.shape == (2, 2)
    for j, (Xj, _) in enumerate(tasks):
        for k, (Xk, _) in enumerate(tasks):
            K_jk = theta0.entk(Xj, Xk, blocks=blocks)
            nj, nk = len(Xj), len(Xk)
            effect = np.linalg.norm(K_jk @ tv.coefficients[k]) / math.sqrt(nj)
            assert abs(tv.interference[j, k] - effect) <= LINEAR_TOL * effect
            mass = np.linalg.norm(K_jk, "fro") / math.sqrt(nj * nk)
            assert abs(tv.cross_kernel_mass[j, k] - mass) <= LINEAR_TOL * mass
            tau_j, tau_k = tv.vectors[j], tv.vectors[k]
            cosine = tau_j @ tau_k / (np.linalg.norm(tau_j) * np.linalg.norm(tau_k))
            assert abs(tv.weight_cosine[j, k] - cosine) < LINEAR_TOL
        # ||tau_k||^2 = a_k^T K_k a_k, the RKHS norm of g_k (section 5).
        K_jj, a = theta0.entk(Xj, blocks=blocks), tv.coefficients[j]
        assert abs(tv.vectors[j] @ tv.vectors[j] - a @ K_jj @ a) <= LINEAR_TOL * (a @ K_jj @ a)


def test_recursion_matches_matrix_power_closed_form(theta0):
    tasks = overlapping_tasks()
    steps = 25
    for k, (X, y) in enumerate(tasks):
        n = len(y)
        K = theta0.entk(X)
        alpha = 0.9 * n / np.linalg.eigvalsh(K).max()  # alpha * lambda_max(K / n) < 1
        tv = task_vectors(theta0, [tasks[k]], steps=steps, learning_rate=alpha)
        r = y - theta0.forward(X)
        S = np.eye(n) - alpha * K / n
        a = (alpha / n) * sum(np.linalg.matrix_power(S, j) @ r for j in range(steps))
        assert rel_err(tv.coefficients[0], a) < LINEAR_TOL


def test_task_vector_is_parameter_space_gd_on_the_linearised_model(theta0):
    X, y = overlapping_tasks()[0]
    steps, alpha, blocks = 30, 0.1, ("k", "w")
    tv = task_vectors(theta0, [(X, y)], steps=steps, learning_rate=alpha, blocks=blocks)
    J, r = theta0.jacobian(X, blocks), y - theta0.forward(X)
    delta = np.zeros(J.shape[1])
    for _ in range(steps):
        delta = delta - alpha * J.T @ (J @ delta - r) / len(y)
    assert rel_err(tv.vectors[0], delta) < LINEAR_TOL


def test_linearised_prediction_equals_jacobian_times_task_vector(theta0):
    tasks = overlapping_tasks()
    blocks = ("q", "v", "w")
    tv = task_vectors(theta0, tasks, steps=30, learning_rate=0.1, blocks=blocks)
    X_new = inputs(9, d=6, seed=25)
    f0, J = theta0.forward(X_new), theta0.jacobian(X_new, blocks)
    for k, (Xk, _) in enumerate(tasks):
        weights = np.eye(2)[k]
        pred = tv.predict(X_new, weights)
        scale = np.max(np.abs(pred - f0))
        assert np.max(np.abs(pred - (f0 + J @ tv.vectors[k]))) < LINEAR_TOL * scale
        kernel_route = f0 + theta0.entk(X_new, Xk, blocks) @ tv.coefficients[k]
        assert np.max(np.abs(pred - kernel_route)) < LINEAR_TOL * scale
    weights = np.array([1.0, -0.5])
    pred = tv.predict(X_new, weights)
    assert rel_err(pred - f0, J @ (tv.vectors[0] - 0.5 * tv.vectors[1])) < LINEAR_TOL

    errors = tv.errors(weights)
    for j, (Xj, yj) in enumerate(tasks):
        rms = math.sqrt(np.mean((tv.predict(Xj, weights) - yj) ** 2))
        assert abs(errors[j] - rms) < LINEAR_TOL * rms
    untouched = tv.errors(np.zeros(2))
    for j, (Xj, yj) in enumerate(tasks):
        assert abs(untouched[j] - math.sqrt(np.mean((theta0.forward(Xj) - yj) ** 2))) < EXACT_RTOL

    merged = tv.merged_model(weights)
    start = np.concatenate([theta0.params[b].ravel() for b in blocks])
    moved = np.concatenate([merged.params[b].ravel() for b in blocks])
    assert rel_err(moved - start, tv.combined(weights)) < EXACT_RTOL
    assert np.array_equal(merged.W_K, theta0.W_K)


def test_zero_steps_give_zero_task_vectors(theta0):
    tv = task_vectors(theta0, overlapping_tasks(), steps=0, learning_rate=0.1)
    assert all(not np.any(v) for v in tv.vectors)
    assert np.all(tv.interference == 0) and np.all(np.isnan(tv.weight_cosine))


# --------------------------------------------------------------------------- bad input


def bad_calls():
    model = AttentionModel(D, D_K, D_V, rng=0)
    X, y = inputs(N), np.zeros(N)
    tasks = [(X, y), (inputs(3), np.zeros(2))]
    return [
        (lambda: AttentionModel(D, D_K, D_V, pooling="max"), r"pooling must be one of 'mean'"),
        (lambda: AttentionModel(0, D_K, D_V), r"d must be an integer >= 1; got 0"),
        (lambda: AttentionModel(D, 2.5, D_V), r"d_k must be an integer >= 1; got 2.5"),
        (lambda: model.jacobian(X, blocks=("q", "x")), r"blocks must be .*'q', 'k', 'v', 'w'"),
        (lambda: model.entk(X, blocks=()), r"blocks must be a non-empty subset"),
        (lambda: model.forward(inputs(N, d=D + 1)), r"X must have shape .* d = 5; got \(4, 6, 6\)"),
        (lambda: model.forward(np.zeros((2, 3, 4, D))), r"X must have 2 or 3 dimension"),
        (lambda: model.entk(X, inputs(2, d=3)), r"X2 must have shape"),
        (lambda: model.forward(np.full((L, D), np.nan)), r"X must contain only finite values"),
        (lambda: model.pretrain(X, np.zeros(N - 1), 5, 0.1), r"y must have 4 entries; got 3"),
        (lambda: model.pretrain(X, y, -1, 0.1), r"steps must be an integer >= 0; got -1"),
        (lambda: model.pretrain(X, y, 5, 0.0), r"learning_rate must be in \(0, inf\); got 0"),
        (lambda: model.with_theta(np.zeros(3)), r"theta must have shape \(54\)"),
        (lambda: task_vectors(model, tasks, steps=5, learning_rate=0.1),
         r"tasks\[1\]: y must have 3 entries; got 2"),
        (lambda: task_vectors(model, [(inputs(2, d=3), np.zeros(2))], steps=5,
                              learning_rate=0.1), r"tasks\[0\]: X must have shape"),
        (lambda: task_vectors(model, [], steps=5, learning_rate=0.1), r"tasks must be a non-empty"),
        (lambda: task_vectors(model, [(X, y)], steps=5, learning_rate=-1.0),
         r"learning_rate must be in"),
        (lambda: task_vectors(model, [(X, y)], steps=5, learning_rate=0.1).predict(X, [1, 2]),
         r"weights must have shape \(1\)"),
    ]


@pytest.mark.parametrize("case", range(len(bad_calls())))
def test_bad_input_names_the_parameter(case):
    call, message = bad_calls()[case]
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("theta0", ["pretrained", "random"])
def test_theta0_alone_is_the_kernels_theta0_and_pretraining_fits_the_teacher(theta0):
    from explorer.ntk import attention_kernel, attention_theta0

    model, losses = attention_theta0(12, d=4, length=3, theta0=theta0, steps=30, rng=5)
    ak = attention_kernel(12, d=4, length=3, theta0=theta0, steps=30, rng=5)
    np.testing.assert_array_equal(model.theta, ak.model.theta)
    np.testing.assert_array_equal(losses, ak.pretrain_losses)
    if theta0 == "pretrained":
        assert losses.shape == (31,) and losses[-1] < 0.5 * losses[0]
    else:
        assert losses.size == 0
