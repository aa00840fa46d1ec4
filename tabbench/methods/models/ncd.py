"""Novel class discovery (NCD) methods: cluster unlabelled rows with help from known classes.

Troisemaine et al., "A Practical Approach to Novel Class Discovery in Tabular Data". Every
method is an NCD clusterer: ``fit(X, y)`` where ``y`` holds known-class codes for labelled
rows and ``-1`` for unlabelled rows, then ``labels_`` holds a novel-cluster id
``0..n_novel-1`` per unlabelled row, in order; ``embedding_`` is the representation the
clusters live in (used to estimate the number of novel classes by silhouette).

* ``kmeans`` — plain k-means on the unlabelled rows (baseline).
* ``ncd-kmeans`` — known-class centroids fixed at the class means; novel centroids seeded
  k-means++-style away from all centroids chosen so far; Lloyd iterations move only the
  novel centroids, on the unlabelled rows; restarts keep the lowest inertia.
* ``ncd-spectral`` — Gaussian affinity over all rows (bandwidth: the longest edge of the
  minimum spanning tree, times a tunable factor), its ``n_known + k`` leading
  normalized-Laplacian eigenvectors for k novel classes, then ``ncd-kmeans`` in that
  embedding. The affinity is a Nyström approximation from 1,000 landmark rows, so memory
  grows with the rows, not their square.
* ``pbn`` — an autoencoder whose L2-normalized latent also feeds a classifier of the known
  classes (torch, imported inside ``fit``); k-means on the normalized latent.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from tabbench.methods.models.base import FitContext, ModelSpec, register_model

__all__ = ["PBN", "NCDKMeans", "NCDSpectral", "PlainKMeans", "ncd_kmeans"]


#: Bytes of a float64.
_F64 = 8
#: ``ncd-spectral``: Nyström landmarks by default, rows of the bandwidth's MST, eigenvectors kept.
_LANDMARKS = 1000
_MST_ROWS = 2000
_KEPT_VECTORS = 64
#: What importing and starting torch costs a process, measured on CPU (about 0.2 GB RSS,
#: rounded up); ``pbn`` counts it in its memory estimate.
_TORCH_BYTES = 400 * 2**20


def _ncd_kmeans_bytes(n_rows: int, n_dims: int, n_centroids: int) -> int:
    """Peak of :func:`ncd_kmeans` beyond its input: distance blocks and a copy of the rows."""
    return _F64 * (n_rows * n_dims + 4 * n_rows * max(1, n_centroids))


def _check(X: np.ndarray, y: np.ndarray, n_novel: int) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    if X.ndim != 2 or y.shape != (X.shape[0],):
        message = f"X must be 2-D with one label per row; got X {X.shape}, y {y.shape}"
        raise ValueError(message)
    n_unlabelled = int((y < 0).sum())
    if n_novel < 1 or n_unlabelled < n_novel:
        message = (f"n_novel must be in 1..{n_unlabelled} (the unlabelled rows, y == -1); "
                   f"got {n_novel}")
        raise ValueError(message)
    return X, y


def _sq_dist(X: np.ndarray, C: np.ndarray) -> np.ndarray:
    d = (X * X).sum(1)[:, None] - 2.0 * X @ C.T + (C * C).sum(1)[None, :]
    return np.maximum(d, 0.0)


def ncd_kmeans(U: np.ndarray, known_centroids: np.ndarray, n_novel: int, *, n_init: int = 10,
               max_iter: int = 100, seed: int = 0) -> tuple[np.ndarray, np.ndarray, float]:
    """k-means on ``U`` with the known centroids fixed; return labels, novel centroids, inertia.

    Novel centroids are drawn from ``U`` with probability proportional to the squared
    distance to the nearest centroid chosen so far (known ones included), so they start away
    from the known classes. Only novel centroids move; rows are assigned among them.
    """
    rng = np.random.default_rng(seed)
    best: tuple[np.ndarray, np.ndarray, float] | None = None
    for _ in range(n_init):
        chosen = list(known_centroids)
        novel = []
        for _ in range(n_novel):
            if chosen:
                dist = np.sqrt(_sq_dist(U, np.asarray(chosen)).min(1))
                p = dist / dist.sum() if dist.sum() > 0 else None
            else:
                p = None
            pick = U[rng.choice(len(U), p=p)]
            chosen.append(pick)
            novel.append(pick)
        centers = np.asarray(novel, dtype=np.float64)
        labels = np.full(len(U), -1)
        for _ in range(max_iter):
            new = _sq_dist(U, centers).argmin(1)
            if np.array_equal(new, labels):
                break
            labels = new
            for j in range(n_novel):
                members = U[labels == j]
                # an emptied cluster restarts at the row farthest from its centre
                centers[j] = members.mean(0) if len(members) else \
                    U[_sq_dist(U, centers).min(1).argmax()]
        inertia = float(_sq_dist(U, centers)[np.arange(len(U)), labels].sum())
        if best is None or inertia < best[2]:
            best = (labels.copy(), centers.copy(), inertia)
    assert best is not None
    return best


def _class_means(Z: np.ndarray, y: np.ndarray) -> np.ndarray:
    classes = np.unique(y[y >= 0])
    return np.stack([Z[y == c].mean(0) for c in classes]) if len(classes) else np.empty((0, Z.shape[1]))


def _standardize(X: np.ndarray) -> np.ndarray:
    # centre per column, but one scale for all columns: per-column scaling blows up
    # near-constant columns (digits' border pixels) and drowns the cluster structure
    scale = float(X.std())
    return (X - X.mean(0)) / (scale if scale > 0 else 1.0)


class _Clusterer:
    """sklearn-style base: keyword-only params stored, work in ``fit``, ``labels_`` after."""

    def __init__(self, *, n_novel: int = 2, seed: int = 0, n_threads: int = 1, **params: Any) -> None:
        self.n_novel = n_novel
        self.seed = seed
        self.n_threads = n_threads
        self.params = params
        self.device_ = "cpu"

    def fit(self, X: np.ndarray, y: np.ndarray) -> _Clusterer:
        X, y = _check(X, y, self.n_novel)
        self.embedding_ = self._embed(X, y)
        self.y_ = y
        return self.recluster(self.n_novel)

    def recluster(self, n_novel: int) -> _Clusterer:
        """Cluster the unlabelled rows again into ``n_novel`` clusters.

        The representation is the one the method builds for ``n_novel`` novel classes: the
        same as ``fit``'s for most methods; ``ncd-spectral`` keeps ``n_known + n_novel``
        eigenvectors, so ``embedding_`` changes with ``n_novel`` (the affinity does not).
        """
        self.n_novel = n_novel
        self.embedding_ = self._represent(n_novel)
        U = self.embedding_[self.y_ < 0]
        self.labels_, self.cluster_centers_, self.inertia_ = self._cluster(U, self.y_)
        return self

    def _embed(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        return _standardize(X)

    #: How the method's memory grows, in words; :meth:`memory_bytes` puts numbers on it.
    memory_model = "O(n·d): the rows, standardized, and n × (known + novel) distance blocks"

    def memory_bytes(self, n_rows: int, n_features: int, n_known: int) -> int:
        """Estimated peak memory of ``fit`` beyond its input, in bytes, for ``n_rows`` rows
        of ``n_features`` features with ``n_known`` known classes (the runner checks it
        against the memory available before it starts)."""
        return (_F64 * 3 * n_rows * n_features
                + _ncd_kmeans_bytes(n_rows, n_features, n_known + self.n_novel))

    def kept_bytes(self, n_rows: int, n_features: int, n_known: int) -> int:
        """Memory a fitted model keeps (its representation), in bytes."""
        return _F64 * n_rows * n_features

    def _represent(self, n_novel: int) -> np.ndarray:
        """The representation for ``n_novel`` novel classes; by default ``fit``'s, whatever k."""
        return self.embedding_

    def _cluster(self, U: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        known = _class_means(self.embedding_, y)
        return ncd_kmeans(U, known, self.n_novel, n_init=int(self.params.get("n_init", 10)),
                          seed=self.seed)


class PlainKMeans(_Clusterer):
    """k-means on the unlabelled rows only (the known classes are ignored)."""

    memory_model = "O(n·d): the rows, standardized, and scikit-learn's chunked distances"

    def memory_bytes(self, n_rows: int, n_features: int, n_known: int) -> int:
        return _F64 * (4 * n_rows * n_features + 2 * n_rows * self.n_novel) + 64 * 2**20

    def _cluster(self, U: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        # deferred: scikit-learn is heavy to import
        from sklearn.cluster import KMeans

        km = KMeans(self.n_novel, n_init=int(self.params.get("n_init", 10)),
                    random_state=self.seed).fit(U)
        return km.labels_, km.cluster_centers_, float(km.inertia_)


class NCDKMeans(_Clusterer):
    """k-means with the known-class centroids fixed at their class means."""


class NCDSpectral(_Clusterer):
    """``ncd-kmeans`` in a normalized-Laplacian spectral embedding of all rows (Nyström).

    The Gaussian affinity of every pair of rows is never formed: a Nyström approximation
    from ``n_landmarks`` rows (as scikit-learn's ``Nystroem``) gives features ``Φ`` with
    ``K ≈ ΦΦᵀ``; the degrees are ``Φ(Φᵀ1)`` and the leading eigenvectors of the normalized
    affinity ``D^-½ K D^-½ = BBᵀ`` (``B = D^-½ Φ``) are ``B``'s left singular vectors,
    from the ``m × m`` matrix ``BᵀB``. Exact (up to the kernel's diagonal, ``K_ii = 1``)
    when the rows are no more than the landmarks. The bandwidth is the longest edge of the
    minimum spanning tree of at most 2,000 rows (all rows when there are fewer).
    """

    memory_model = ("O(n·m): the Nyström features and their normalized copy (n × m, m = "
                    "min(n, n_landmarks)), an m × m Gram matrix, the MST of at most "
                    f"{_MST_ROWS:,} rows (s² distances) and at most {_KEPT_VECTORS} "
                    "eigenvectors per row")

    def _embed(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        # BLAS on the method's threads: two threads on a busy 2-core machine made one
        # 1,000 × 1,000 eigh 13 times slower than one
        with threadpool_limits(limits=max(1, self.n_threads)):
            return self._spectral_embed(X, y)

    def _spectral_embed(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        # deferred: SciPy and scikit-learn are heavy to import
        from scipy.linalg import eigh
        from sklearn.metrics.pairwise import rbf_kernel

        Z = _standardize(X)
        sigma = _mst_scale(Z, self.seed) * float(self.params.get("bandwidth", 1.0))
        gamma = 1.0 / (2.0 * max(sigma, 1e-12) ** 2)
        m = min(len(Z), int(self.params.get("n_landmarks", _LANDMARKS)))
        rng = np.random.default_rng(self.seed)
        landmarks = np.sort(rng.choice(len(Z), m, replace=False))
        # Nyström as scikit-learn's Nystroem computes it (Φ = K_nm K_mm^-½), with eigh of
        # the symmetric K_mm instead of its SVD (the same factors, several times faster)
        # and without the last rotation, which leaves ΦΦᵀ unchanged
        B = rbf_kernel(Z, Z[landmarks], gamma=gamma)
        values, vectors = eigh(B[landmarks])
        B = B @ (vectors / np.sqrt(np.maximum(values, 1e-12)))
        del Z
        degree = B @ B.sum(0) - 1.0  # row sums of K without the diagonal (K_ii = 1)
        B /= np.sqrt(np.maximum(degree, 1e-12))[:, None]
        values, vectors = eigh(B.T @ B)  # ascending, as the eigenvectors of BBᵀ
        self._n_known = len(np.unique(y[y >= 0]))
        keep = min(m, max(_KEPT_VECTORS, int(self.params.get("n_components", 0))))
        values, vectors = values[-keep:], vectors[:, -keep:]
        # left singular vectors of B, the widest first kept: eigenvectors of BBᵀ
        self._vectors = (B @ vectors) / np.sqrt(np.maximum(values, 1e-300))
        return self._eigen_embedding(self.n_novel)

    def _represent(self, n_novel: int) -> np.ndarray:
        return self._eigen_embedding(n_novel)

    def _eigen_embedding(self, n_novel: int) -> np.ndarray:
        """Rows of the ``n_known + n_novel`` leading eigenvectors (or ``n_components``), unit norm.

        One eigenvector per class, as spectral clustering does: a candidate k is judged in
        the embedding the method would use for k, never in the one built for another k.
        """
        m = int(self.params.get("n_components", 0)) or self._n_known + n_novel
        if m > self._vectors.shape[1]:
            message = (f"ncd-spectral keeps the {self._vectors.shape[1]} leading eigenvectors "
                       f"(landmarks: {self._vectors.shape[1]} at most); {m} were asked "
                       f"({self._n_known} known + {n_novel} novel classes)")
            raise ValueError(message)
        vectors = self._vectors[:, self._vectors.shape[1] - m:]
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms > 0, norms, 1.0)

    def memory_bytes(self, n_rows: int, n_features: int, n_known: int) -> int:
        m = min(n_rows, int(self.params.get("n_landmarks", _LANDMARKS)))
        s = min(n_rows, _MST_ROWS)
        kept = min(m, max(_KEPT_VECTORS, int(self.params.get("n_components", 0))))
        return _F64 * (2 * n_rows * n_features + 3 * n_rows * m + 4 * m * m + 3 * s * s
                       + 2 * n_rows * kept) + _ncd_kmeans_bytes(n_rows, kept, n_known
                                                                + self.n_novel)

    def kept_bytes(self, n_rows: int, n_features: int, n_known: int) -> int:
        kept = min(n_rows, int(self.params.get("n_landmarks", _LANDMARKS)), _KEPT_VECTORS)
        return _F64 * 2 * n_rows * kept


def _mst_scale(Z: np.ndarray, seed: int) -> float:
    """Longest edge of the minimum spanning tree of at most ``_MST_ROWS`` rows of ``Z``.

    The longest MST edge is the smallest bandwidth that keeps the graph connected. On a
    sample of a larger table it is longer than on all rows (the rows are sparser), so the
    kernel is somewhat wider; the tunable ``bandwidth`` factor scales it either way.
    """
    # deferred: SciPy is heavy to import
    from scipy.sparse.csgraph import minimum_spanning_tree
    from scipy.spatial.distance import pdist, squareform

    if len(Z) > _MST_ROWS:
        rows = np.sort(np.random.default_rng(seed).choice(len(Z), _MST_ROWS, replace=False))
        Z = Z[rows]
    return float(minimum_spanning_tree(squareform(pdist(Z))).max())


class PBN(_Clusterer):
    """Projection-based NCD: autoencoder + known-class classifier on an L2-normalized latent."""

    memory_model = ("O(n·d): the rows in float64 and float32, the encoder's activations of "
                    "all rows once (n × (d + latent)), mini-batches of 256 rows, and torch")

    def memory_bytes(self, n_rows: int, n_features: int, n_known: int) -> int:
        latent = int(self.params.get("latent_dim", 16))
        return (_F64 * 3 * n_rows * n_features + 4 * 3 * n_rows * (n_features + latent)
                + _F64 * 2 * n_rows * latent + _TORCH_BYTES)

    def kept_bytes(self, n_rows: int, n_features: int, n_known: int) -> int:
        return _F64 * n_rows * int(self.params.get("latent_dim", 16))

    def _embed(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        # deferred: torch is heavy to import
        import torch
        from torch import nn

        p = {"latent_dim": 16, "w": 0.01, "lr": 3e-3, "weight_decay": 1e-2, "epochs": 120,
             "batch_size": 256, "dropout": 0.0} | self.params
        torch.manual_seed(self.seed)
        torch.set_num_threads(max(1, self.n_threads))
        Z = _standardize(X).astype(np.float32)
        d = Z.shape[1]
        hidden = [max(1, 3 * d // 4), max(1, d // 2)]
        latent = int(p["latent_dim"])
        known = np.unique(y[y >= 0])
        code = {c: i for i, c in enumerate(known)}
        target = np.array([code.get(v, -1) for v in y], dtype=np.int64)

        def mlp(sizes: list[int]) -> nn.Sequential:
            layers: list[nn.Module] = []
            for i, (a, b) in enumerate(itertools.pairwise(sizes)):
                layers.append(nn.Linear(a, b))
                if i < len(sizes) - 2:
                    layers += [nn.BatchNorm1d(b), nn.ReLU(), nn.Dropout(float(p["dropout"]))]
            return nn.Sequential(*layers)

        encoder = mlp([d, *hidden, latent])
        decoder = mlp([latent, *hidden[::-1], d])
        head = nn.Linear(latent, max(1, len(known)))
        params = [*encoder.parameters(), *decoder.parameters(), *head.parameters()]
        opt = torch.optim.AdamW(params, lr=float(p["lr"]), weight_decay=float(p["weight_decay"]))
        Xt, yt = torch.from_numpy(Z), torch.from_numpy(target)
        w = float(p["w"])
        gen = torch.Generator().manual_seed(self.seed)
        batch = int(p["batch_size"])
        for _ in range(int(p["epochs"])):
            for idx in torch.randperm(len(Xt), generator=gen).split(batch):
                if len(idx) < 2:
                    continue
                xb, yb = Xt[idx], yt[idx]
                z = nn.functional.normalize(encoder(xb), dim=1)
                loss = (1.0 - w) * nn.functional.mse_loss(decoder(z), xb)
                labelled = yb >= 0
                if labelled.any() and len(known):
                    loss = loss + w * nn.functional.cross_entropy(head(z[labelled]), yb[labelled])
                opt.zero_grad()
                loss.backward()
                opt.step()
        encoder.eval()
        with torch.no_grad():
            # k-means on the raw latent collapses accuracy; the normalized one is what trained
            return nn.functional.normalize(encoder(Xt), dim=1).numpy().astype(np.float64)

    def _cluster(self, U: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        # deferred: scikit-learn is heavy to import
        from sklearn.cluster import KMeans

        km = KMeans(self.n_novel, n_init=int(self.params.get("n_init", 10)),
                    random_state=self.seed).fit(U)
        return km.labels_, km.cluster_centers_, float(km.inertia_)


def _builder(cls: type[_Clusterer]):
    def build(params: dict[str, Any], context: FitContext) -> _Clusterer:
        return cls(seed=context.seed, n_threads=context.n_threads, **params)

    return build


def _kmeans_space(trial: Any) -> dict[str, Any]:
    return {"n_init": trial.suggest_int("n_init", 5, 20)}


def _spectral_space(trial: Any) -> dict[str, Any]:
    return {"bandwidth": trial.suggest_float("bandwidth", 0.3, 3.0, log=True),
            "n_components": trial.suggest_int("n_components", 0, 30)}


def _pbn_space(trial: Any) -> dict[str, Any]:
    return {"latent_dim": trial.suggest_int("latent_dim", 8, 64, log=True),
            "w": trial.suggest_float("w", 0.01, 0.9, log=True),
            "lr": trial.suggest_float("lr", 1e-4, 1e-2, log=True),
            "epochs": trial.suggest_int("epochs", 40, 160)}


_METHODS = (
    ("kmeans", PlainKMeans, {"n_init": 10}, _kmeans_space, 0.2,
     "k-means on the unlabelled rows only (baseline)"),
    ("ncd-kmeans", NCDKMeans, {"n_init": 10}, _kmeans_space, 0.3,
     "k-means with fixed known-class centroids"),
    ("ncd-spectral", NCDSpectral, {"bandwidth": 1.0, "n_components": 0,
                                   "n_landmarks": _LANDMARKS}, _spectral_space, 1.0,
     "ncd-kmeans in a normalized-Laplacian spectral embedding"),
    ("pbn", PBN, {"latent_dim": 16, "w": 0.01, "lr": 3e-3, "weight_decay": 1e-2,
             "epochs": 120}, _pbn_space, 2.0,
     "projection-based NCD: autoencoder + known-class head, k-means on the L2-normalized latent"),
)

for _name, _cls, _defaults, _space, _cost, _description in _METHODS:
    register_model(ModelSpec(
        name=_name, task_types=("ncd",), family="ncd",  # type: ignore[arg-type]
        build=_builder(_cls), default_params=_defaults, search_space=_space,
        extra="torch" if _name == "pbn" else None, description=_description, cost=_cost,
    ))
