"""Next-token cross-entropy through the output projection, chunked, gradients taken in the forward.

For the small models of this project the vocabulary projection and the loss are a large share
of a training step: a (batch x seq_len, vocab) logits tensor (128 MB at 32 x 128 x 8192 in
float32) is written by the projection, read and written by log-softmax, again by its backward,
and zero-filled and scattered by the loss's backward. :func:`linear_cross_entropy` never holds
more than ``chunk_rows`` rows of logits. For each chunk of hidden states it computes the logits,
their log-sum-exp and the loss, and at once the gradient of the summed loss with respect to the
logits (softmax - one-hot), which it turns into the chunk's gradient of the hidden states and
adds to the gradient of the projection weight. The backward pass then only scales the stored
gradients by the incoming one. This is the "fused linear cross-entropy" of Liger Kernel and of
Wijmans et al. (2024, "Cut your losses"), written in plain torch.

The matmuls run in ``compute_dtype`` (bfloat16 under mixed precision) with float32 logits,
log-sum-exp and gradient accumulation. In float32 it equals ``F.cross_entropy(h @ W.T, t)`` and
its gradients up to float rounding (tested).
"""

from __future__ import annotations

import torch

CHUNK_ROWS = 1024  # rows of logits held at once: 32 MB at a vocabulary of 8192 in float32


class _LinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden, weight, targets, chunk_rows: int, compute_dtype: torch.dtype):
        # hidden (N, d) any float dtype; weight (V, d) float32 master; targets (N,) int64
        n = hidden.shape[0]
        with torch.autocast(hidden.device.type, enabled=False):
            w = weight.to(compute_dtype)
            grad_hidden = torch.empty(hidden.shape, dtype=torch.float32, device=hidden.device)
            grad_weight = torch.zeros(weight.shape, dtype=torch.float32, device=weight.device)
            total = torch.zeros((), dtype=torch.float32, device=hidden.device)
            for start in range(0, n, chunk_rows):
                h = hidden[start : start + chunk_rows].to(compute_dtype)  # (c, d)
                t = targets[start : start + chunk_rows]  # (c,)
                logits = (h @ w.T).float()  # (c, V)
                target_logit = logits.gather(1, t[:, None])  # (c, 1)
                # log-sum-exp and softmax in place, one pass each: e = exp(x - max), lse = max + log sum e
                top = logits.amax(1, keepdim=True)
                exps = logits.sub_(top).exp_()
                sums = exps.sum(1, keepdim=True)
                total += (top + sums.log() - target_logit).sum()
                # d(sum of losses)/d logits = softmax - one-hot
                grad_logits = exps.div_(sums)
                grad_logits[torch.arange(len(t), device=t.device), t] -= 1.0
                g = grad_logits.to(compute_dtype)
                grad_hidden[start : start + chunk_rows] = g @ w  # (c, d)
                grad_weight += (g.T @ h).float()  # (V, d)
        ctx.save_for_backward(grad_hidden, grad_weight)
        ctx.n, ctx.hidden_dtype, ctx.weight_dtype = n, hidden.dtype, weight.dtype
        return total / n

    @staticmethod
    def backward(ctx, grad_output):
        grad_hidden, grad_weight = ctx.saved_tensors
        scale = grad_output / ctx.n  # the loss is the mean over rows
        return ((grad_hidden * scale).to(ctx.hidden_dtype), (grad_weight * scale).to(ctx.weight_dtype),
                None, None, None)


def linear_cross_entropy(hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor,
                         compute_dtype: torch.dtype = torch.float32, chunk_rows: int = CHUNK_ROWS) -> torch.Tensor:
    """Mean of ``cross_entropy(hidden @ weight.T, targets)`` over rows, without the full logits.

    ``hidden`` is (N, d), ``weight`` the (V, d) output projection (no bias), ``targets`` (N,).
    Differentiable in ``hidden`` and ``weight``. Without gradients (validation) it still
    computes them; use it where a backward pass follows.
    """
    return _LinearCrossEntropy.apply(hidden, weight, targets, chunk_rows, compute_dtype)
