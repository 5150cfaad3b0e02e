"""Squared Euclidean distances from row norms and dot products, for dense or CSR rows.

``||x - y||^2 = ||x||^2 + ||y||^2 - 2 x.y`` needs only matrix-vector products, so a pool
is never densified and no (n_samples, n_samples) matrix is ever built.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from labelloop.strategies._blocks import row_blocks

__all__ = [
    "Matrix",
    "dense_row",
    "min_sq_distances",
    "nearest_center",
    "row_sq_norms",
    "sq_distances_to",
]

Matrix = np.ndarray | sp.csr_matrix


def row_sq_norms(X: Matrix) -> np.ndarray:
    """Squared L2 norm of every row."""
    if sp.issparse(X):
        return np.asarray(X.multiply(X).sum(axis=1), dtype=X.dtype).ravel()
    return np.einsum("ij,ij->i", X, X)


def dense_row(X: Matrix, index: int) -> np.ndarray:
    """Row ``index`` as a dense 1-D array."""
    if sp.issparse(X):
        return X[index].toarray().ravel()
    return X[index]


def sq_distances_to(X: Matrix, norms: np.ndarray, point: np.ndarray, point_norm: float):
    """Squared distances from every row of ``X`` to one dense ``point``, clipped at 0."""
    distances = X @ point
    distances *= -2
    distances += norms
    distances += point_norm
    return np.maximum(distances, 0, out=distances)


def _as_columns(centers: Matrix) -> Matrix:
    """Centers as one (n_features, n_centers) operand that every block of rows can use.

    Sparse centers stay sparse (densifying them could cost n_centers x n_features); dense
    ones are made contiguous once, since a sparse block times a transposed (Fortran-ordered)
    view would copy them again for every block.
    """
    return centers.T.tocsr() if sp.issparse(centers) else np.ascontiguousarray(centers.T)


def _block_dots(X: Matrix, block: slice, columns: Matrix) -> np.ndarray:
    """Dot products of rows ``block`` of ``X`` with every center, as a dense array.

    ``columns`` holds the centers as :func:`_as_columns` returns them.
    """
    product = X[block] @ columns
    return product.toarray() if sp.issparse(product) else np.asarray(product)


def min_sq_distances(
    X: Matrix, norms: np.ndarray, centers: Matrix, rows_per_block: int
) -> np.ndarray:
    """Squared distance from every row of ``X`` to its nearest row of ``centers``.

    Works over blocks of rows and of centers, so at most ``rows_per_block**2`` distances
    exist at once.
    """
    center_norms = row_sq_norms(centers)
    nearest = np.full(X.shape[0], np.inf, dtype=np.float64)
    for center_block in row_blocks(centers.shape[0], rows_per_block):
        chunk = _as_columns(centers[center_block])
        for block in row_blocks(X.shape[0], rows_per_block):
            distances = center_norms[center_block] - 2 * _block_dots(X, block, chunk)
            distances += norms[block, None]
            np.minimum(nearest[block], distances.min(axis=1), out=nearest[block])
    return np.maximum(nearest, 0, out=nearest)


def nearest_center(X: Matrix, centers: Matrix, rows_per_block: int) -> np.ndarray:
    """Index of the nearest center (dense, or CSR for sparse rows) for every row of ``X``."""
    center_norms = row_sq_norms(centers)
    columns = _as_columns(centers)
    labels = np.empty(X.shape[0], dtype=np.intp)
    for block in row_blocks(X.shape[0], rows_per_block):
        # ||x||^2 is the same for every center, so it does not change the argmin.
        labels[block] = (center_norms - 2 * _block_dots(X, block, columns)).argmin(axis=1)
    return labels
