"""Several continuations of one prompt prefix: the prefix is run once and its KV cache shared by
the continuations, instead of once per continuation. GRPO's G completions of a prompt and SFT
examples that share the car's ~500-token system message both need this on a CPU thread; the
gradients flow into the shared prefix pass as they would into copies of it.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch


def shared_prefix_logits(model: Any, prefix: Sequence[int] | torch.Tensor, tails: torch.Tensor,
                         mask: torch.Tensor, predict: Sequence[int] | None = None,
                         prefix_grad: bool = True) -> torch.Tensor:
    """(B, T, vocab) float logits of the right-padded `tails` (B, T) after `prefix`, where position
    j predicts tail token j (the prefix's last position predicts token 0), as one forward pass
    over prefix + tail would give; `mask` (B, T) marks the real tail tokens.

    `predict`: only these tail positions (ascending; the result is (B, len(predict), vocab)): the
    vocabulary projection is a fifth of the model's work per position, and a target is a few
    tokens at the end of a long tail. `prefix_grad=False` runs the prefix without gradients: the
    weights then learn from how the tails read the prefix, not from how the prefix is written,
    and the backward pass skips the prefix (about half of it for a decision prompt)."""
    size = tails.shape[0]
    device = model.device
    prefix_ids = torch.as_tensor(prefix).reshape(1, -1)
    with torch.set_grad_enabled(prefix_grad and torch.is_grad_enabled()):
        head = model(input_ids=prefix_ids.to(device), use_cache=True, logits_to_keep=1)
    cache = head.cache
    cache.batch_repeat_interleave(size)
    attention = torch.cat([torch.ones(size, prefix_ids.shape[1], dtype=torch.bool), mask.cpu()], dim=1)
    wanted = torch.arange(tails.shape[1]) if predict is None else torch.as_tensor(predict, dtype=torch.long)
    inner = wanted[wanted > 0] - 1  # tail position j is predicted by tail logit j - 1
    parts = [head.logits[:, -1:].expand(size, 1, -1)] if bool((wanted == 0).any()) else []
    if inner.numel():
        tail = model(input_ids=tails.to(device), attention_mask=attention.to(device), cache=cache, use_cache=False,
                     logits_to_keep=inner.to(device))
        parts.append(tail.logits)
    return torch.cat(parts, dim=1).float()
